"""stackmesh_common.jobs on the stack's real NATS JetStream: delivery, retries, giving up, dedupe."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from stackmesh.common.v1 import job_pb2
from stackmesh_common import jobs


class Recorder:
    """A handler that fails as told and records every delivery."""

    def __init__(self, failures: dict[str, list[BaseException]], runs: int, give_ups: int) -> None:
        self.failures = failures
        self.expected = (runs, give_ups)
        self.runs: list[tuple[str, int, bool]] = []
        self.given_up: dict[str, str] = {}
        self.done = asyncio.Event()

    async def run(self, delivery: jobs.Delivery) -> None:
        self.runs.append((delivery.job.id, delivery.attempt, delivery.last_attempt))
        self._check()
        pending = self.failures.get(delivery.job.id)
        if pending:
            raise pending.pop(0)

    async def give_up(self, delivery: jobs.Delivery, error: BaseException) -> None:
        self.given_up[delivery.job.id] = str(error)
        self._check()

    def _check(self) -> None:
        runs, give_ups = self.expected
        if len(self.runs) >= runs and len(self.given_up) >= give_ups:
            self.done.set()


@pytest.fixture
async def nats(stack):
    client = await jobs.connect(stack.config.nats, "test")
    yield client
    await client.close()


async def test_jobs_are_retried_then_given_up_and_bad_input_is_not_retried(nats):
    kind = jobs.JobKind(f"test_{uuid.uuid4().hex[:8]}", ack_wait_s=5, max_deliver=2)
    failures = {"flaky": [RuntimeError("once")], "doomed": [RuntimeError("a"), RuntimeError("b")], "bad": [jobs.PermanentJobError("no")]}
    # ok once, flaky and doomed twice (max_deliver), bad once (not retried); doomed and bad given up.
    handler = Recorder(failures, runs=6, give_ups=2)
    worker = jobs.JobWorker(nats, kind, handler, concurrency=4)
    await worker.start()
    try:
        for job_id in ("ok", "flaky", "doomed", "bad"):
            await jobs.submit(nats, kind, job_pb2.Job(id=job_id, kind=kind.name), dedupe_id=job_id)
        # A second submit with the same dedupe id is dropped by JetStream.
        await jobs.submit(nats, kind, job_pb2.Job(id="ok", kind=kind.name), dedupe_id="ok")
        await asyncio.wait_for(handler.done.wait(), timeout=30)
        await asyncio.sleep(1)  # room for a wrong extra delivery to show up
    finally:
        await worker.stop()
    runs = sorted(handler.runs)
    assert runs == [
        ("bad", 1, False), ("doomed", 1, False), ("doomed", 2, True), ("flaky", 1, False), ("flaky", 2, True), ("ok", 1, False),
    ]  # fmt: skip
    assert handler.given_up == {"doomed": "b", "bad": "no"}
