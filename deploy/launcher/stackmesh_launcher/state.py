"""`<state>/stack.json`: what a running stack is made of, read by `stackmesh status` and `down`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from stackmesh_launcher import process
from stackmesh_launcher.probes import Probe

FILE_NAME = "stack.json"


class ProcessRecord(BaseModel):
    """A pid plus its creation time, so a reused pid is never mistaken for ours."""

    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        return cls(pid=pid, created=process.started_at(pid) or 0.0)

    def alive(self) -> bool:
        return process.is_alive(self.pid, self.created)


class ComponentRecord(BaseModel):
    name: str
    what: str
    process: ProcessRecord
    address: str
    log: Path
    probe: Probe
    restarts: int = 0
    # Its Prometheus endpoint, if it serves one.
    metrics: str | None = None


class StackRecord(BaseModel):
    name: str
    phase: Literal["starting", "ready"]
    supervisor: ProcessRecord
    config: Path
    gateway_url: str | None
    components: list[ComponentRecord]


def path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def read(state_dir: Path) -> StackRecord | None:
    try:
        return StackRecord.model_validate_json(path(state_dir).read_text())
    except FileNotFoundError:
        return None


def write(state_dir: Path, record: StackRecord) -> None:
    # Readers poll this file while it changes: replace it whole, never write it in place.
    temporary = path(state_dir).with_suffix(".tmp")
    temporary.write_text(record.model_dump_json(indent=2))
    os.replace(temporary, path(state_dir))


def remove(state_dir: Path) -> None:
    path(state_dir).unlink(missing_ok=True)
