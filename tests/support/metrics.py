"""Reading the Prometheus metrics of a stack's processes in tests."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from stackmesh_launcher.stack import LocalStack


def listed_by_status(stack: LocalStack) -> dict[str, tuple[str, str]]:
    """Component -> (address, metrics URL), as `stackmesh status` prints the running ones."""
    done = subprocess.run(
        [sys.executable, "-m", "stackmesh_launcher", "status", "--state-dir", str(stack.state_dir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = re.findall(r"^\s+(\S+)\s+running\s+pid \d+\s+(\S+)\s.*\smetrics (http://\S+)$", done.stdout, re.MULTILINE)
    return {name: (address, url) for name, address, url in lines}


def scrape(url: str) -> str:
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels are exactly `labels`; 0 when absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric == name and dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text)) == labels:
            return float(value)
    return 0.0
