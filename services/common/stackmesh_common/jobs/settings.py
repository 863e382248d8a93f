"""How one kind of job's workers run, as a service's settings give it (each kind extends it
with its own fields and defaults)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.jobs.queue import JobKind


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Run the workers inside the service process; off when they run as
    # `python -m stackmesh_<service>.worker` processes of their own.
    in_process: bool = True
    # Jobs one process runs at once.
    concurrency: int = Field(default=4, ge=1, le=256)
    # Seconds without a heartbeat before the job of a dead worker is redelivered.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Deliveries of a job before it fails for good.
    max_deliver: int = Field(default=5, ge=1)

    def kind(self, name: str) -> JobKind:
        return JobKind(name, ack_wait_s=self.ack_wait_s, max_deliver=self.max_deliver)
