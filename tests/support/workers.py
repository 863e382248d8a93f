"""Worker processes in tests: `python -m <module> --config …`, its JSON log lines in a file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stackmesh_launcher.ports import pick_free_port
from stackmesh_launcher.stack import LocalStack


def json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut by a SIGKILL
    return lines


class WorkerProcess:
    """A worker process (e.g. `stackmesh_inference.worker`) of a test's stack."""

    def __init__(self, module: str, stack: LocalStack, log: Path, env: dict[str, str] | None = None) -> None:
        """`env`: variables added to the test's environment (e.g. STACKMESH_NATS__URL)."""
        self.log = log
        # A port of its own for /metrics: workers of a test run side by side.
        metrics_port = pick_free_port("127.0.0.1", set())
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(stack.config_path), "--metrics-port", str(metrics_port)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self, message: str) -> list[dict]:
        return [line for line in json_lines(self.log) if line.get("msg") == message]

    def wait_for(self, message: str, predicate=lambda event: True, timeout_s: float = 120) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            for event in self.events(message):
                if predicate(event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no {message!r} in {self.log}:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
