"""What the launcher tests share: tiny fake services, distribution files, process checks."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
STACKMESH = Path(sys.executable).with_name("stackmesh")

# A service built on the service kit with no API of its own: health, reflection, and the
# inspect API (GET /v1/version through the gateway when `gateway.inspect_service` names it).
ECHO_SERVICE = """
from stackmesh_common.service import ServiceSpec, main

NAME = __package__.removeprefix("stackmesh_")


async def setup(ctx):
    pass


main(ServiceSpec(name=NAME, setup=setup))
"""

# A service that dies while loading, the way a missing model file would make it.
CRASH_SERVICE = """
import sys

print("loading model weights from /nowhere/model.gguf", flush=True)
sys.exit("crash: model file not found: /nowhere/model.gguf")
"""

# The echo service on its first start; every later start dies at once (a crash loop).
FLAKY_SERVICE = (
    """
import sys
from pathlib import Path

started = Path(__file__).with_name("started")
if started.exists():
    sys.exit("crash: cannot start twice")
started.touch()
"""
    + ECHO_SERVICE
)

FAKE_SERVICES = {"echo": ECHO_SERVICE, "crash": CRASH_SERVICE, "flaky": FLAKY_SERVICE}


def install_fake_services(root: Path) -> None:
    """Writes the packages `stackmesh_<name>` of FAKE_SERVICES under `root`."""
    for name, code in FAKE_SERVICES.items():
        package = root / f"stackmesh_{name}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text(code)


def write_distribution(directory: Path, services: str = "{}", extra: str = "") -> Path:
    path = directory / "distribution.yaml"
    path.write_text(f"name: t\nservices: {services}\n{extra}")
    return path


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running; a zombie nobody has reaped yet counts as gone."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_gone(processes: list[psutil.Process], timeout_s: float = 15.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while running(processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running(processes)


def descendants(besides: Sequence[psutil.Process] = ()) -> list[psutil.Process]:
    """This process's live descendants, except `besides` (another stack's, started by a fixture)."""
    return [proc for proc in running(psutil.Process().children(recursive=True)) if proc not in besides]


class LauncherProcess:
    """A LocalStack started by `script` in a child process (argv: distribution, state dir), so
    a test can SIGKILL the launcher itself; on exit, kills it and anything it left behind."""

    def __init__(self, directory: Path, script: str, services: str = "{echo: {port: 0}}") -> None:
        self.state_dir = directory / "state"
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), str(write_distribution(directory, services=services)), str(self.state_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.children: list[psutil.Process] = []

    def read_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def record_children(self) -> list[psutil.Process]:
        self.children = psutil.Process(self.process.pid).children(recursive=True)
        return self.children

    def kill(self) -> list[psutil.Process]:
        """SIGKILLs the launcher; the children still running after a while."""
        self.process.kill()
        self.process.wait()
        return wait_gone(self.children)

    def __enter__(self) -> "LauncherProcess":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.kill()
        self.process.wait()
        for proc in running(self.children):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()

