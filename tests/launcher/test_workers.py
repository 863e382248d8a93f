"""Job-worker processes beside a service (`services.<name>.workers`): started after the service,
ready once they log "worker started", restarted after a crash, stopped before the service."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack, StackStartError
from tests.launcher.helpers import STACKMESH, descendants, running, write_distribution

# The echo service's worker on the real service kit: `serve_worker` builds the service
# (Postgres pool, migrations) without a gRPC server and logs "worker started".
ECHO_WORKER = """
from stackmesh_common.service import ServiceSpec, main


async def setup(ctx):
    pass


main(ServiceSpec(name="echo", setup=setup), worker=True)
"""

# A worker that dies while building the service, the way an unreachable queue would make it.
BROKEN_WORKER = """
import sys

print("connecting to the job queue", flush=True)
sys.exit("crash: no job queue")
"""


def started_lines(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith("{") and json.loads(line)["msg"] == "worker started")


def test_workers_run_beside_their_service_and_come_back_after_a_crash(tmp_path: Path, fake_services: Path) -> None:
    """Two workers start after echo, `stackmesh status` lists them, a SIGKILLed one is restarted with a
    new pid (its sibling untouched), and stop() ends them before the service."""
    (fake_services / "stackmesh_echo" / "worker.py").write_text(ECHO_WORKER)
    others = descendants()
    out = io.StringIO()
    distribution = write_distribution(tmp_path, services="{echo: {port: 0, workers: 2}}")
    with LocalStack(distribution, tmp_path / "state", gateway=False, out=out) as stack:
        assert stack.components == ["postgres", "nats", "echo", "echo-worker-1", "echo-worker-2"]
        record = state.read(stack.state_dir)
        assert record is not None
        workers = {c.name: c for c in record.components if c.what == "job worker"}
        assert sorted(workers) == ["echo-worker-1", "echo-worker-2"]
        for worker in workers.values():
            assert worker.process.alive() and worker.probe.kind == "worker-log" and worker.probe.ok()
            assert started_lines(worker.log) == 1
            command = psutil.Process(worker.process.pid).cmdline()
            assert command[command.index("-m") + 1] == "stackmesh_echo.worker"
            # Each worker serves its own metrics, on the port the launcher picked for it.
            assert httpx.get(worker.metrics, timeout=10).status_code == 200
        shown = subprocess.run(
            [STACKMESH, "status", "--state-dir", stack.state_dir], check=False, capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stdout
        for name, worker in workers.items():
            assert f"  {name} running  pid {worker.process.pid:<9}jobs of echo  worker-log ok  metrics {worker.metrics}\n" in shown.stdout

        stack.stop_component("echo-worker-1", signal.SIGKILL)
        stack.wait_ready("echo-worker-1", timeout_s=30)
        record = state.read(stack.state_dir)
        assert record is not None and record.phase == "ready"
        again = {c.name: c for c in record.components if c.what == "job worker"}
        first = again["echo-worker-1"]
        assert first.process.pid != workers["echo-worker-1"].process.pid
        assert first.process.alive() and first.restarts == 1 and first.probe.ok()
        assert again["echo-worker-2"] == workers["echo-worker-2"]
        log = first.log.read_text()
        assert started_lines(first.log) == 2 and "--- stackmesh: restart 1 ---" in log
        processes = [psutil.Process(c.process.pid) for c in record.components]

    assert running(processes) == [] and descendants(others) == []
    progress = out.getvalue()
    assert "  echo-worker-1 job worker              jobs of echo" in progress
    assert "  echo-worker-1 crashed (exit code -9), restarting in 0.5 s (restart 1)\n" in progress
    assert "  echo-worker-1 restarted, ready in " in progress
    stopped = [line.split()[1] for line in progress.splitlines() if line.startswith("  stopped ")]
    assert stopped == ["echo-worker-2", "echo-worker-1", "echo", "nats", "postgres"]


def test_a_worker_that_exits_fails_the_start_fast_with_its_log(tmp_path: Path, fake_services: Path) -> None:
    """Like a service that dies: the error names the worker, its exit code and its log's last lines."""
    (fake_services / "stackmesh_echo" / "worker.py").write_text(BROKEN_WORKER)
    others = descendants()
    distribution = write_distribution(tmp_path, services="{echo: {port: 0, workers: 1}}")
    stack = LocalStack(distribution, tmp_path / "state", gateway=False)
    began = time.monotonic()
    with pytest.raises(StackStartError) as error:
        stack.start()
    assert time.monotonic() - began < 30
    message = str(error.value)
    assert message.startswith("echo-worker-1 exited with code 1 before it was ready; log ")
    assert "connecting to the job queue" in message and "crash: no job queue" in message
    assert descendants(others) == []


def test_workers_of_a_service_without_a_worker_module_are_refused_before_anything_starts(
    tmp_path: Path, fake_services: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`workers` set by an environment override, like any field; the echo service has no worker module."""
    monkeypatch.setenv("STACKMESH_SERVICES__ECHO__WORKERS", "1")
    others = descendants()
    stack = LocalStack(write_distribution(tmp_path, services="{echo: {port: 0}}"), tmp_path / "state", gateway=False)
    assert stack.config.services["echo"].workers == 1
    with pytest.raises(StackStartError) as error:
        stack.start()
    assert str(error.value) == (
        "echo-worker-1: services.echo.workers asks for job workers, but stackmesh_echo has no worker module "
        "(stackmesh_echo.worker); set services.echo.workers to 0"
    )
    assert descendants(others) == []
