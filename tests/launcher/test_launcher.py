"""The local launcher against real processes: embedded PostgreSQL, nats-server and gRPC services."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import psutil
import psycopg
import pytest

from stackmesh_common import jobs
from stackmesh_common.config import ConfigError, NatsConfig, load_config
from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack, RestartPolicy, StackStartError
from tests.launcher.helpers import REPO, STACKMESH, LauncherProcess, descendants, running, serving, wait_gone, write_distribution


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    directory = tmp_path_factory.mktemp("infra")
    with LocalStack(write_distribution(directory), directory / "state", gateway=False) as stack:
        yield stack


def test_a_distribution_without_services_runs_postgres_and_nats_only(infra: LocalStack) -> None:
    """The component list comes from the config: no services, gateway left out."""
    assert infra.components == ["postgres", "nats"]


def test_postgres_serves_the_stackmesh_database_with_pgvector(infra: LocalStack) -> None:
    """The resolved URL reaches embedded PostgreSQL, where pgvector is already created."""
    assert infra.config.postgres.url.startswith("postgresql://postgres@/stackmesh?host=")
    with psycopg.connect(infra.config.postgres.url) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        distance = conn.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector").fetchone()
    assert row is not None and row[0].count(".") >= 1, row
    assert distance == (1.0,)


def test_nats_has_jetstream_enabled(infra: LocalStack) -> None:
    """JetStream answers account info and stores a message in a stream."""

    async def roundtrip() -> tuple[int, int]:
        nc = await nats.connect(infra.config.nats.url, user=infra.config.nats.user, password=infra.config.nats.password)
        try:
            js = nc.jetstream()
            await js.account_info()
            await js.add_stream(name="launcher_test", subjects=["launcher.test"])
            ack = await js.publish("launcher.test", b"hello")
            info = await js.stream_info("launcher_test")
            return ack.seq, info.state.messages
        finally:
            await nc.close()

    assert asyncio.run(roundtrip()) == (1, 1)


def test_nats_refuses_a_client_without_the_stacks_password(infra: LocalStack) -> None:
    """The services' connect fails at once, saying why and without the password it tried."""
    wrong = infra.config.nats.model_copy(update={"password": "not-the-password"})
    began = time.monotonic()
    with pytest.raises(ConfigError) as error:
        asyncio.run(jobs.connect(wrong, "test"))
    assert time.monotonic() - began < 5
    assert str(error.value) == f"NATS at {infra.config.nats.url} refused the password of user 'stackmesh' (nats.user, nats.password)"
    with pytest.raises(ConfigError, match="refused a connection without credentials"):
        asyncio.run(jobs.connect(NatsConfig(url=infra.config.nats.url), "test"))


def test_stack_files_describe_the_running_stack(infra: LocalStack) -> None:
    """stack.yaml is the resolved config; stack.json and `stackmesh status` list live components."""
    resolved = load_config(infra.state_dir / "stack.yaml")
    assert resolved.postgres.url == infra.config.postgres.url
    assert resolved.nats == infra.config.nats and resolved.nats.password
    assert resolved.state_dir == infra.state_dir
    # They hold the NATS password.
    assert (infra.state_dir / "stack.yaml").stat().st_mode & 0o077 == 0
    assert (infra.state_dir / "nats.conf").stat().st_mode & 0o077 == 0

    record = state.read(infra.state_dir)
    assert record is not None and record.phase == "ready" and record.supervisor.pid == os.getpid()
    assert [c.name for c in record.components] == ["postgres", "nats"]
    assert all(c.process.alive() and c.log.is_file() for c in record.components)

    shown = subprocess.run(
        [STACKMESH, "status", "--state-dir", infra.state_dir], check=False, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "postgres      running" in shown.stdout and "postgres ok" in shown.stdout
    assert "nats          running" in shown.stdout and "http ok" in shown.stdout


def test_a_taken_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    """The message names the component, the port and the variable that moves it."""
    others = descendants()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(
            write_distribution(tmp_path, extra=f"nats:\n  port: {port}\n"),
            tmp_path / "state",
            free_ports=False,
            gateway=False,
        )
        with pytest.raises(StackStartError) as error:
            stack.start()
    assert f"nats: port {port} on 127.0.0.1 is already in use" in str(error.value)
    assert "set STACKMESH_NATS__PORT to another port" in str(error.value)
    assert descendants(others) == []
    assert not (tmp_path / "state" / "data").exists()
    assert state.read(tmp_path / "state") is None


def test_a_service_is_ready_when_grpc_health_says_serving(
    tmp_path: Path, fake_services: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With free ports, the service binds the port the launcher chose even if the env names another.
    Stopped on purpose, it stays down (the supervisor restarts only crashes)."""
    monkeypatch.setenv("STACKMESH_SERVICES__ECHO__PORT", "1")
    distribution = write_distribution(tmp_path, services="{echo: {port: 50051}}")
    quick_restarts = RestartPolicy(first_backoff_s=0.05)
    with LocalStack(distribution, tmp_path / "state", gateway=False, restart_policy=quick_restarts) as stack:
        address = stack.service_address("echo")
        assert address.startswith("127.0.0.1:") and address != "127.0.0.1:1"
        assert serving(address)

        stack.stop_component("echo")
        time.sleep(1.0)  # time enough for a restart, were it one
        assert not serving(address)
        shown = subprocess.run(
            [STACKMESH, "status", "--state-dir", stack.state_dir], check=False, capture_output=True, text=True
        )
        assert shown.returncode == 1
        assert "echo          stopped" in shown.stdout
        assert "postgres      running" in shown.stdout


def test_stop_leaves_no_child_process_alive(tmp_path: Path, fake_services: Path) -> None:
    """Every process of every component (PostgreSQL's backends included) is gone after stop()."""
    others = descendants()
    stack = LocalStack(write_distribution(tmp_path, services="{echo: {port: 0}}"), tmp_path / "state", gateway=False)
    stack.start()
    children = descendants(others)
    assert len(children) >= 5, children  # postmaster + its workers, nats-server, the service
    stack.stop()
    assert running(children) == []
    assert descendants(others) == []
    assert state.read(tmp_path / "state") is None


def test_children_die_with_the_supervisor(tmp_path: Path, fake_services: Path) -> None:
    """A SIGKILLed launcher leaves nothing behind: each child gets its stop signal from the kernel."""
    script = """
        import sys, time
        from stackmesh_launcher.stack import LocalStack

        LocalStack(sys.argv[1], sys.argv[2], gateway=False).start()
        print("ready", flush=True)
        time.sleep(600)
        """
    with LauncherProcess(tmp_path, script) as launcher:
        assert launcher.read_line() == "ready\n"
        assert len(launcher.record_children()) >= 5, launcher.children
        assert launcher.kill() == []


def test_a_service_that_exits_fails_the_start_fast_with_its_log(tmp_path: Path, fake_services: Path) -> None:
    """No 120 s wait: the error names the service, its exit code and the last lines of its log."""
    others = descendants()
    stack = LocalStack(write_distribution(tmp_path, services="{crash: {port: 0}}"), tmp_path / "state", gateway=False)
    began = time.monotonic()
    with pytest.raises(StackStartError) as error:
        stack.start()
    assert time.monotonic() - began < 30
    message = str(error.value)
    assert message.startswith("crash exited with code 1 before it was ready; log ")
    assert "loading model weights from /nowhere/model.gguf" in message
    assert "crash: model file not found: /nowhere/model.gguf" in message
    assert descendants(others) == []


def test_a_service_without_its_package_is_named_before_anything_starts(tmp_path: Path) -> None:
    """A typo in `services:` is a clear error, not a 120 s readiness timeout."""
    others = descendants()
    stack = LocalStack(write_distribution(tmp_path, services="{nosuch: {port: 0}}"), tmp_path / "state", gateway=False)
    with pytest.raises(StackStartError, match=r"nosuch: the Python package stackmesh_nosuch is not installed"):
        stack.start()
    assert descendants(others) == []


def test_the_gateway_is_part_of_the_stack_unless_left_out(
    tmp_path: Path, fake_services: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway starts last and answers /healthz; without its package, start() says so."""
    monkeypatch.setenv("STACKMESH_DESCRIPTOR", str(REPO / "build" / "stackmesh.binpb"))
    stack = LocalStack(write_distribution(tmp_path, services="{echo: {port: 0}}"), tmp_path / "state")
    assert stack.components == ["postgres", "nats", "echo", "gateway"]
    assert stack.gateway_url == f"http://127.0.0.1:{stack.config.gateway.port}"
    if importlib.util.find_spec("stackmesh_gateway") is None:
        with pytest.raises(StackStartError, match=r"gateway: the Python package stackmesh_gateway is not installed"):
            stack.start()
        return
    with stack:
        with urllib.request.urlopen(f"{stack.gateway_url}/healthz", timeout=5) as response:
            assert response.status == 200
        assert state.read(stack.state_dir).gateway_url == stack.gateway_url


def test_cli_up_detach_status_down(tmp_path: Path) -> None:
    """`up --detach` returns once ready, `status` sees it, `down` stops it and everything it ran."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nats_port = probe.getsockname()[1]
    env = {**os.environ, "STACKMESH_NATS__PORT": str(nats_port)}
    state_dir = tmp_path / "state"

    started = subprocess.run(
        [STACKMESH, "up", "--detach", "--no-gateway", "--config", write_distribution(tmp_path), "--state-dir", state_dir],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"nats://127.0.0.1:{nats_port}" in started.stdout
        assert "stackmesh: ready (without the gateway)" in started.stdout
        record = state.read(state_dir)
        assert record is not None
        processes = [psutil.Process(record.supervisor.pid)] + [psutil.Process(c.process.pid) for c in record.components]

        shown = subprocess.run(
            [STACKMESH, "status", "--state-dir", state_dir], check=False, capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stdout

        stopped = subprocess.run(
            [STACKMESH, "down", "--state-dir", state_dir], check=False, capture_output=True, text=True, timeout=60
        )
        assert stopped.returncode == 0 and "stackmesh: stopped 't' (2 components)" in stopped.stdout, stopped.stdout
        assert wait_gone(processes) == []
    finally:
        # Nothing of a failed run may outlive the test (`down` is a no-op once stopped).
        subprocess.run([STACKMESH, "down", "--state-dir", state_dir], check=False, capture_output=True, timeout=60)
    log = (state_dir / "logs" / "stackmesh.log").read_text()
    assert "stopped nats" in log and "stopped postgres" in log

    after = subprocess.run([STACKMESH, "status", "--state-dir", state_dir], check=False, capture_output=True, text=True)
    assert after.returncode == 1 and "no stack is running" in after.stdout
