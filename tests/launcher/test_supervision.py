"""Supervision against real processes: crashed components come back on their ports, a crash loop
stops the stack, and the gateway answers 503 in OpenAI's envelope while a service is down."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import nats
import psutil
import psycopg
import pytest

from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack, RestartPolicy
from tests.launcher.helpers import REPO, STACKMESH, LauncherProcess, running, serving, wait_gone, write_distribution


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_killed_service_is_restarted_on_its_port_and_status_shows_its_new_pid(
    tmp_path: Path, fake_services: Path
) -> None:
    """kill -9 is a crash: the service is back after the first backoff, serving on the same address."""
    out = io.StringIO()
    with LocalStack(write_distribution(tmp_path, services="{echo: {port: 0}}"), tmp_path / "state", gateway=False, out=out) as stack:
        address = stack.service_address("echo")
        record = state.read(stack.state_dir)
        assert record is not None
        old_pid = next(c.process.pid for c in record.components if c.name == "echo")

        stack.stop_component("echo", signal.SIGKILL)
        stack.wait_ready("echo", timeout_s=30)
        assert serving(address)

        record = state.read(stack.state_dir)
        assert record is not None and record.phase == "ready"
        echo = next(c for c in record.components if c.name == "echo")
        assert echo.process.pid != old_pid and echo.process.alive() and echo.restarts == 1
        shown = subprocess.run(
            [STACKMESH, "status", "--state-dir", stack.state_dir], check=False, capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stdout
        assert f"echo          running  pid {echo.process.pid:<9}{address}  grpc ok  restarted 1x" in shown.stdout

    progress = out.getvalue()
    assert "  echo          crashed (exit code -9), restarting in 0.5 s (restart 1)\n" in progress
    assert "  echo          restarted, ready in " in progress
    # The log keeps the crashed run's lines, then the restarted one's.
    log = (tmp_path / "state" / "logs" / "echo.log").read_text()
    assert log.count('"serving"') == 2 and "--- stackmesh: restart 1 ---" in log


def test_postgres_and_nats_are_restarted_with_their_data(tmp_path: Path) -> None:
    """Infrastructure crashes too: both come back on the same socket and port, data intact."""
    with LocalStack(write_distribution(tmp_path), tmp_path / "state", gateway=False) as stack:
        with psycopg.connect(stack.config.postgres.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int)")

        stack.stop_component("postgres", signal.SIGKILL)
        stack.stop_component("nats", signal.SIGKILL)
        stack.wait_ready("postgres", timeout_s=60)
        stack.wait_ready("nats", timeout_s=60)

        with psycopg.connect(stack.config.postgres.url) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)

        async def jetstream_account() -> None:
            connection = await nats.connect(stack.config.nats.url, user=stack.config.nats.user, password=stack.config.nats.password)
            try:
                await connection.jetstream().account_info()
            finally:
                await connection.close()

        asyncio.run(jetstream_account())


def test_the_gateway_answers_503_while_a_service_is_down_and_recovers_by_itself(
    tmp_path: Path, fake_services: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 503 is OpenAI's envelope with a message to act on; a killed gateway comes back too."""
    pytest.importorskip("stackmesh_gateway")
    monkeypatch.setenv("STACKMESH_DESCRIPTOR", str(REPO / "build" / "stackmesh.binpb"))
    distribution = write_distribution(tmp_path, services="{echo: {port: 0}}", extra="gateway: {inspect_service: echo}\n")
    # A longer first backoff keeps the service down while the test asks.
    with LocalStack(distribution, tmp_path / "state", restart_policy=RestartPolicy(first_backoff_s=2.0)) as stack:
        version_url = f"{stack.gateway_url}/v1/version"
        assert http_get(version_url)[0] == 200

        stack.stop_component("echo", signal.SIGKILL)
        status, headers, body = http_get(version_url)
        assert status == 503, body
        assert headers["content-type"] == "application/json" and headers["retry-after"] == "1"
        error = json.loads(body)["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"], error["code"]) == ("api_error", None, "service_unavailable")
        assert error["message"].startswith("The echo service is unavailable (down or restarting); retry in a few seconds.")

        stack.wait_ready("echo", timeout_s=30)
        status, _, body = http_get(version_url)
        assert status == 200 and "version" in json.loads(body)

        stack.stop_component("gateway", signal.SIGKILL)
        stack.wait_ready("gateway", timeout_s=30)
        assert http_get(version_url)[0] == 200


def test_a_crash_loop_stops_the_stack_with_a_clear_message(tmp_path: Path, fake_services: Path) -> None:
    """`stackmesh up`: a service that dies on every restart stops everything after --max-crashes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nats_port = probe.getsockname()[1]
    state_dir = tmp_path / "state"
    up = subprocess.Popen(
        [STACKMESH, "up", "--no-gateway", "--max-crashes", "3", "--state-dir", state_dir,
         "--config", write_distribution(tmp_path, services="{flaky: {port: 0}}")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "STACKMESH_NATS__PORT": str(nats_port)},
    )  # fmt: skip
    processes: list[psutil.Process] = []
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if line.startswith("stackmesh: ready"):
                break
        record = state.read(state_dir)
        assert record is not None, up.stdout.read()
        processes = [psutil.Process(c.process.pid) for c in record.components]
        flaky = next(c for c in record.components if c.name == "flaky")
        os.kill(flaky.process.pid, signal.SIGKILL)
        stdout, stderr = up.communicate(timeout=60)
    finally:
        up.kill()
        for proc in running(processes):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()

    assert up.returncode == 1, stdout + stderr
    assert "  flaky         crashed (exit code -9), restarting in 0.5 s (restart 1)\n" in stdout
    assert "  flaky         crashed (exit code 1), restarting in 1 s (restart 2)\n" in stdout
    assert "stackmesh: stopping the stack\n" in stdout and "stopped postgres" in stdout
    assert stderr.startswith(
        "stackmesh: flaky is crash-looping (3 crashes within 60 s, the last: crashed (exit code 1)); log "
    ), stderr
    assert "crash: cannot start twice" in stderr
    assert wait_gone(processes) == []
    assert state.read(state_dir) is None


def test_restarted_children_die_with_the_supervisor(tmp_path: Path, fake_services: Path) -> None:
    """A process the supervisor restarted gets its stop signal from the kernel too when the launcher dies."""
    script = """
        import signal, sys, time
        from stackmesh_launcher.stack import LocalStack

        stack = LocalStack(sys.argv[1], sys.argv[2], gateway=False)
        stack.start()
        stack.stop_component("echo", signal.SIGKILL)
        stack.wait_ready("echo")
        print("restarted", flush=True)
        time.sleep(600)
        """
    with LauncherProcess(tmp_path, script) as launcher:
        assert launcher.read_line() == "restarted\n"
        children = launcher.record_children()
        record = state.read(launcher.state_dir)
        assert record is not None
        echo = next(c for c in record.components if c.name == "echo")
        assert echo.restarts == 1 and echo.process.pid in [proc.pid for proc in children]
        assert launcher.kill() == []
