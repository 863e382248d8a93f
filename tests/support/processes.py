"""Processes of the tests: children they start themselves (servers standing in for remote ones,
a second gateway), and the components of a launched stack."""

from __future__ import annotations

import subprocess

from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack


def stop_process(process: subprocess.Popen, timeout_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still running after `timeout_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def component_pids(stack: LocalStack, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """name → (pid, restarts) from the launcher's stack.json: a changed pid is a restarted component."""
    record = state.read(stack.state_dir)
    assert record is not None
    return {c.name: (c.process.pid, c.restarts) for c in record.components if c.name in names}
