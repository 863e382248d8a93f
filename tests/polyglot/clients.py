"""What every polyglot client test does: build the client with its own script, run its
scenario against the stack, and read the JSON report it prints."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def build(script: Path, timeout_s: int) -> None:
    """Scripts are idempotent and fast when nothing changed; a cold machine also installs the
    toolchain from Debian or npm, hence the generous timeout."""
    run = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout_s)
    assert run.returncode == 0, f"{script.relative_to(REPO)} failed:\n{run.stdout}{run.stderr}"


def report(command: list[str], client: str) -> dict[str, Any]:
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"the {client} client exited {run.returncode}:\n{run.stderr}"
    return json.loads(run.stdout)


def assert_usage(usage: dict[str, int], max_completion_tokens: int) -> None:
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= max_completion_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
