"""stackmesh_common.jobs on the stack's real NATS JetStream and PostgreSQL: records, retries,
failing for good, idempotent submit, cancel of scheduled and running jobs, watch, and the
sweeper that queues what was recorded while NATS was unreachable."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from google.protobuf import struct_pb2

from stackmesh.common.v1 import job_pb2
from stackmesh_common import jobs
from stackmesh_common.call_context import principal, request_id
from stackmesh_common.db import migrate, open_pool
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.service import COMMON_MIGRATIONS

SCHEMA = "jobs_test"


class Recorder:
    """A handler that fails as told, records every run, and can wait for a cancel."""

    payload_type = struct_pb2.Struct

    def __init__(self, failures: dict[str, list[BaseException]] | None = None, obey_cancel: bool = True) -> None:
        self.failures = failures or {}
        self.obey_cancel = obey_cancel
        self.runs: list[tuple[str, int, bool]] = []
        self.failed_for_good: dict[str, str] = {}
        self.unstarted: list[str] = []
        self.started = asyncio.Event()
        self.cancel_seen_at: float | None = None
        # job id -> how its last run ended ("returned", "cancelled", or the exception's name).
        self.ended: dict[str, str] = {}
        # job id -> the request id its run logged under (from the message's headers).
        self.request_ids: dict[str, str | None] = {}

    async def run(self, job: jobs.JobContext) -> dict | None:
        self.runs.append((job.id, job.attempt, job.last_attempt))
        self.request_ids[job.id] = request_id.get()
        self.started.set()
        try:
            result = await self._work(job)
        except asyncio.CancelledError:
            self.ended[job.id] = "cancelled"
            raise
        except Exception as exc:
            self.ended[job.id] = type(exc).__name__
            raise
        self.ended[job.id] = "returned"
        return result

    async def _work(self, job: jobs.JobContext) -> dict | None:
        pending = self.failures.get(job.id)
        if pending:
            raise pending.pop(0)
        if job.payload["wait"]:
            for step in range(1000):
                if job.payload["report"]:
                    await job.progress(step, 1000, "waiting")
                if job.cancel_requested.is_set() and self.obey_cancel:
                    self.cancel_seen_at = time.monotonic()
                    return {"stopped_at": step}
                await asyncio.sleep(0.05)
        return {"echo": job.payload["value"]}

    async def failed(self, job: jobs.JobContext, error: BaseException) -> None:
        self.failed_for_good[job.id] = str(error)

    async def cancelled_unstarted(self, record: jobs.JobRecord) -> None:
        self.unstarted.append(record.id)


def payload(value: str = "", wait: bool = False, report: bool = True) -> struct_pb2.Struct:
    """A Recorder job: echo `value`, or with `wait` run ~50 s (reporting progress when `report`)."""
    message = struct_pb2.Struct()
    message.update({"value": value, "wait": wait, "report": report})
    return message


@pytest.fixture
async def runtime(stack):
    nc = await jobs.connect(stack.config.nats, "test")
    pool = await open_pool(stack.config.postgres, SCHEMA)
    await migrate(pool, SCHEMA, COMMON_MIGRATIONS, prefix="common/")
    runners: list[jobs.JobRunner] = []

    async def runner(kind: jobs.JobKind, handler: Recorder, concurrency: int = 4) -> jobs.JobRunner:
        started = jobs.JobRunner(nc, pool, kind, handler, concurrency)
        await started.start()
        runners.append(started)
        return started

    yield nc, pool, jobs.JobQueue(nc, pool), runner
    for started in runners:
        await started.stop(grace_s=1)
    await pool.close()
    await nc.close()


def new_kind(**policy) -> jobs.JobKind:
    return jobs.JobKind(f"test_{uuid.uuid4().hex[:8]}", **policy)


async def until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_jobs_are_retried_then_fail_for_good_and_bad_input_is_not_retried(runtime):
    _, _, queue, runner = runtime
    kind = new_kind(ack_wait_s=5, max_deliver=2)
    handler = Recorder({"flaky": [RuntimeError("once")], "doomed": [RuntimeError("a"), RuntimeError("b")], "bad": [jobs.PermanentJobError("no")]})
    await runner(kind, handler)
    ids = {name: f"{name}-{kind.name}" for name in ("ok", "flaky", "doomed", "bad")}
    handler.failures = {ids[name]: errors for name, errors in handler.failures.items()}
    for name, job_id in ids.items():
        record = await queue.submit(kind, job_id, payload(name))
        assert record.state == "scheduled" and record.owner == "anonymous"

    async def all_over() -> bool:
        return all([(await queue.store.get(job_id)).terminal for job_id in ids.values()])

    await until(all_over, timeout_s=60)
    records = {name: await queue.store.get(job_id) for name, job_id in ids.items()}
    assert (records["ok"].state, records["ok"].attempts, records["ok"].result) == ("completed", 1, {"echo": "ok"})
    assert (records["flaky"].state, records["flaky"].attempts) == ("completed", 2)
    assert (records["doomed"].state, records["doomed"].attempts) == ("failed", 2)
    assert "b" in records["doomed"].error["message"]
    assert (records["bad"].state, records["bad"].attempts) == ("failed", 1)
    assert handler.failed_for_good == {ids["doomed"]: "b", ids["bad"]: "no"}
    assert records["ok"].to_proto().state == job_pb2.JOB_STATE_COMPLETED
    assert records["ok"].unpack(struct_pb2.Struct)["value"] == "ok"


async def test_a_job_whose_worker_dies_on_every_run_fails_instead_of_hanging(runtime):
    """Each run ends with its runner gone (stopped at once, the job unacked, as a kill -9
    leaves it): after max_deliver runs the spare delivery records the failure."""
    _, _, queue, runner = runtime
    kind = new_kind(ack_wait_s=1, max_deliver=2)
    handler = Recorder()
    await jobs.ensure_stream(queue.nc, kind)
    record = await queue.submit(kind, f"lost-{kind.name}", payload(wait=True))
    for _ in range(kind.max_deliver):
        handler.started.clear()
        current = await runner(kind, handler)
        await asyncio.wait_for(handler.started.wait(), 30)
        await current.stop(grace_s=0)
    await runner(kind, handler)

    async def over() -> bool:
        return (await queue.store.get(record.id)).terminal

    await until(over)
    final = await queue.store.get(record.id)
    assert (final.state, final.attempts) == ("failed", 3)
    assert "stopped during each of its 2 runs" in final.error["message"]
    assert [attempt for _, attempt, _ in handler.runs] == [1, 2]
    assert record.id in handler.failed_for_good


async def test_submit_is_idempotent_by_job_id(runtime):
    _, _, queue, runner = runtime
    kind = new_kind()
    handler = Recorder()
    await runner(kind, handler)
    first = await queue.submit(kind, f"once-{kind.name}", payload("a"))
    again = await queue.submit(kind, f"once-{kind.name}", payload("b"))
    assert again.id == first.id and again.unpack(struct_pb2.Struct)["value"] == "a"

    async def done() -> bool:
        return (await queue.store.get(first.id)).state == "completed"

    await until(done)
    await asyncio.sleep(1)  # room for a wrong second run to show up
    assert [run[0] for run in handler.runs] == [first.id]


async def test_cancel_reaches_a_running_handler_within_a_second(runtime):
    _, _, queue, runner = runtime
    kind = new_kind()
    handler = Recorder()
    await runner(kind, handler)
    record = await queue.submit(kind, f"long-{kind.name}", payload(wait=True))
    await asyncio.wait_for(handler.started.wait(), 30)
    await asyncio.sleep(0.3)
    cancelled_at = time.monotonic()
    flagged = await queue.cancel(kind, record.id)
    assert flagged.cancel_requested and flagged.state == "in_progress"

    async def over() -> bool:
        return (await queue.store.get(record.id)).terminal

    await until(over)
    final = await queue.store.get(record.id)
    assert final.state == "cancelled" and final.result["stopped_at"] > 0
    assert handler.cancel_seen_at - cancelled_at < 1.0


async def test_a_handler_that_ignores_a_cancel_is_cut_after_the_grace_period(runtime):
    _, _, queue, runner = runtime
    kind = new_kind(cancel_grace_s=0.5)
    handler = Recorder(obey_cancel=False)
    await runner(kind, handler)
    record = await queue.submit(kind, f"stubborn-{kind.name}", payload(wait=True))
    await asyncio.wait_for(handler.started.wait(), 30)
    began = time.monotonic()
    await queue.cancel(kind, record.id)

    async def over() -> bool:
        return (await queue.store.get(record.id)).terminal

    await until(over)
    assert (await queue.store.get(record.id)).state == "cancelled"
    assert time.monotonic() - began < 3


async def test_a_scheduled_job_is_cancelled_at_once_and_never_runs(runtime):
    _, _, queue, runner = runtime
    kind = new_kind()
    await jobs.ensure_stream(queue.nc, kind)
    record = await queue.submit(kind, f"never-{kind.name}", payload("x"))
    cancelled = await queue.cancel(kind, record.id)
    assert cancelled.state == "cancelled" and cancelled.completed_at
    handler = Recorder()
    await runner(kind, handler)

    async def drained() -> bool:
        info = await queue.nc.jetstream().consumer_info(kind.stream, kind.durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    # The runner acks the queued message of a job that is already over, and runs nothing.
    await until(drained)
    assert handler.runs == [] and (await queue.store.get(record.id)).state == "cancelled"


async def test_watch_yields_each_change_until_the_job_is_over(runtime):
    _, _, queue, runner = runtime
    kind = new_kind()
    handler = Recorder()
    record = await queue.submit(kind, f"watched-{kind.name}", payload(wait=True))
    seen = []

    async def watch() -> None:
        async for snapshot in queue.store.watch(record.id):
            seen.append(snapshot)

    watcher = asyncio.create_task(watch())
    await runner(kind, handler)
    await until(lambda: _progressed(queue, record.id, 5))
    await queue.cancel(kind, record.id)
    await asyncio.wait_for(watcher, 10)
    assert seen[0].state == "scheduled" and seen[-1].state == "cancelled"
    progress = [s.completed for s in seen if s.state == "in_progress"]
    assert progress == sorted(progress) and progress[-1] >= 5


async def _progressed(queue: jobs.JobQueue, job_id: str, steps: int) -> bool:
    return (await queue.store.get(job_id)).completed >= steps


async def test_a_job_recorded_while_nats_is_unreachable_is_queued_by_the_sweeper(stack, runtime):
    nc, pool, queue, runner = runtime
    kind = new_kind()
    handler = Recorder()
    await runner(kind, handler)
    closed = await jobs.connect(stack.config.nats, "closed")
    await closed.close()
    token = request_id.set("the-request-that-queued-it")
    try:
        record = await jobs.JobQueue(closed, pool).submit(kind, f"late-{kind.name}", payload("late"))
    finally:
        request_id.reset(token)
    assert record.state == "scheduled"

    async def done() -> bool:
        return (await queue.store.get(record.id)).state == "completed"

    await until(done, timeout_s=20)
    # The late message carries the request's headers too: the worker's logs (and spans) join it.
    assert handler.request_ids[record.id] == "the-request-that-queued-it"


@pytest.mark.parametrize("report", [True, False], ids=["reporting-progress", "silent"])
async def test_a_run_whose_job_was_taken_over_stops_and_records_nothing(runtime, report):
    """What a worker cut off from NATS meets: JetStream gave its job to another worker, whose
    start counted a new attempt. The old run stops within a second (at its next progress write,
    or its heartbeat's read of the record), writes nothing more, and leaves the message alone."""
    nc, _, queue, runner = runtime
    kind = new_kind()
    handler = Recorder(obey_cancel=False)
    await runner(kind, handler)
    record = await queue.submit(kind, f"taken-{kind.name}", payload(wait=True, report=report))
    await asyncio.wait_for(handler.started.wait(), 30)
    await asyncio.sleep(0.6)
    taken = await queue.store.start(record.id)  # the other worker's claim of the redelivery
    assert taken.attempts == 2
    taken_at = time.monotonic()
    await until(lambda: _ended(handler, record.id), timeout_s=5)
    assert time.monotonic() - taken_at < 1.5
    # A reporting run usually meets the fence at its next write, else at the heartbeat's read.
    assert handler.ended[record.id] in ({"JobTakenOver", "cancelled"} if report else {"cancelled"})
    await asyncio.sleep(0.6)  # room for a wrong write of the old run to land
    after = await queue.store.get(record.id)
    assert (after.state, after.attempts, after.completed, after.updated_at) == ("in_progress", 2, taken.completed, taken.updated_at)
    # Neither acked nor naked: the message waits for the newer run's answer.
    consumer = await nc.jetstream().consumer_info(kind.stream, kind.durable)
    assert (consumer.num_ack_pending, consumer.num_redelivered) == (1, 0)
    # The newer run's writes are the ones that count.
    assert await queue.store.progress(record.id, 7, attempt=1) is False
    assert await queue.store.finish(record.id, "completed", result={"by": 1}, attempt=1) is None
    assert (await queue.store.finish(record.id, "completed", result={"by": 2}, attempt=2)).result == {"by": 2}


async def _ended(handler: Recorder, job_id: str) -> bool:
    return job_id in handler.ended


async def test_list_pages_a_kinds_jobs_newest_first(runtime):
    _, _, queue, _ = runtime
    kind = new_kind()
    await jobs.ensure_stream(queue.nc, kind)
    ids = []
    for index in range(3):
        ids.append((await queue.submit(kind, f"listed{index}-{kind.name}", payload(str(index)))).id)
        await asyncio.sleep(0.01)
    first = await queue.store.list(kind.name, limit=2)
    assert [r.id for r in first.items] == ids[::-1][:2] and first.has_more
    rest = await queue.store.list(kind.name, after=first.items[-1].id, limit=2)
    assert [r.id for r in rest.items] == ids[:1] and not rest.has_more
    assert [r.id for r in (await queue.store.list(kind.name, order="asc")).items] == ids
    # Another caller sees none of them, and their ids are no cursor for it either.
    principal.set("someone-else")
    try:
        assert (await queue.store.list(kind.name)).items == []
        with pytest.raises(InvalidArgument, match="unknown"):
            await queue.store.list(kind.name, after=ids[0])
    finally:
        principal.set("anonymous")
    with pytest.raises(InvalidArgument, match="unknown"):
        await queue.store.list(kind.name, after="nope")
