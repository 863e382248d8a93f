"""Reading a job's `…:watch` stream through the gateway."""

from __future__ import annotations

import json

import httpx


def job_snapshots(url: str, read_timeout_s: float = 240) -> list[dict]:
    """The job snapshots of `GET url` (SSE) until the job is over."""
    snapshots = []
    with httpx.stream("GET", url, timeout=httpx.Timeout(10, read=read_timeout_s)) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                snapshots.append(json.loads(line.removeprefix("data: ")))
    return snapshots
