"""Runs one kind of job in a worker process, from the kind's durable JetStream consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import trace
from psycopg_pool import AsyncConnectionPool

from stackmesh_common.call_context import REQUEST_ID_HEADER, attributes, principal, request_id
from stackmesh_common.errors import NotFound
from stackmesh_common.jobs.queue import JobKind, ensure_stream, publish
from stackmesh_common.jobs.store import JobRecord, JobStore, error_of
from stackmesh_common.telemetry import tracing

log = logging.getLogger("stackmesh.jobs")

# How long one fetch waits for jobs; bounds how late a stopping runner notices.
FETCH_TIMEOUT_S = 1.0
# How often a running job's cancel flag is read, in case the broadcast was missed.
CANCEL_POLL_S = 1.0
# How often records JetStream never confirmed are published again, and how old they must be.
SWEEP_INTERVAL_S = 5.0
SWEEP_AGE_S = 2.0
# Delay before a job whose record could not be read or written is tried again.
REDELIVER_AFTER_FAILURE_S = 2.0
# Progress is written at most this often (watchers and the database need no more).
PROGRESS_INTERVAL_S = 0.5


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (bad input): the job fails without another attempt."""


class WorkerLost(Exception):
    """A job whose every run ended with its worker gone."""


class JobTakenOver(Exception):
    """This run's job was started again elsewhere: JetStream redelivered it to another worker
    while this one could not reach the queue (a partition, a stall past ack_wait)."""


@dataclass
class JobContext:
    """One delivery of a job to its handler."""

    record: JobRecord
    payload: Any
    # 1 on the first delivery, 2 on the first redelivery, ...
    attempt: int
    # True when a failure of this attempt fails the job for good.
    last_attempt: bool
    store: JobStore
    # Set when a caller cancels the job: stop starting work, finish what is cheap, return.
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when a later attempt has taken the job over: this run stops and records nothing.
    taken_over: bool = False
    _written_at: float = 0.0
    _written: tuple[int, int | None, str | None] | None = None

    @property
    def id(self) -> str:
        return self.record.id

    async def progress(self, completed: int, total: int | None = None, phase: str | None = None, *, force: bool = False) -> None:
        """Records progress; calls closer than PROGRESS_INTERVAL_S apart are dropped unless
        `force` (the last one of a phase) — concurrent callers must pass the latest count.
        Raises JobTakenOver when a later attempt owns the job: the handler stops there."""
        now = time.monotonic()
        if not force and now - self._written_at < PROGRESS_INTERVAL_S:
            return
        if (completed, total, phase) == self._written:
            return
        self._written_at, self._written = now, (completed, total, phase)
        if not await self.store.progress(self.id, completed, total, phase, attempt=self.attempt):
            self.taken_over = True
            raise JobTakenOver(f"job {self.id} was taken over by a later attempt than {self.attempt}")


class JobHandler(Protocol):
    # The protobuf message the jobs of this kind carry.
    payload_type: type[Message]

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        """Does the job and returns its result; raises PermanentJobError for bad input,
        anything else to be retried. When `job.cancel_requested` is set it should stop early
        and return what it has (the job then ends cancelled)."""

    async def failed(self, job: JobContext, error: BaseException) -> None:
        """Records what a job that failed for good means for the handler's own state."""

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        """Records that a job was cancelled before any worker started it."""


@dataclass
class _Running:
    """A job this runner is running: its task, its newest delivery (heartbeats and the final
    ack go to it), and, once started, what its handler sees."""

    task: asyncio.Task[None]
    delivery: Msg
    job: JobContext | None = None


class JobRunner:
    """Runs up to `concurrency` jobs of one kind at a time."""

    def __init__(self, nc: NatsClient, pool: AsyncConnectionPool, kind: JobKind, handler: JobHandler, concurrency: int) -> None:
        self.nc = nc
        self.store = JobStore(pool)
        self.kind = kind
        self.handler = handler
        self.concurrency = concurrency
        self._running: dict[str, _Running] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._subscription: Any = None
        self._cancel_subscription: Any = None

    async def start(self) -> None:
        await ensure_stream(self.nc, self.kind)
        self._subscription = await self.nc.jetstream().pull_subscribe_bind(self.kind.durable, self.kind.stream)
        self._cancel_subscription = await self.nc.subscribe(self.kind.cancel_subject, cb=self._on_cancel)
        self._tasks = [asyncio.create_task(self._fetch_loop(self._subscription)), asyncio.create_task(self._sweep_loop())]
        log.info("job runner started", extra={"fields": {"kind": self.kind.name, "concurrency": self.concurrency}})

    async def _on_cancel(self, message: Msg) -> None:
        job_id = message.data.decode()
        running = self._running.get(job_id)
        if running is not None and running.job is not None:
            self._cancel(running.job)
            # The canceller waits for this: once it answers, no new work starts.
            if message.reply:
                with contextlib.suppress(Exception):
                    await message.respond(b"cancelling")

    def _cancel(self, job: JobContext) -> None:
        if job.cancel_requested.is_set():
            return
        log.info("cancelling job %s", job.id)
        job.cancel_requested.set()

    async def _fetch_loop(self, subscription: Any) -> None:
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                await asyncio.wait([r.task for r in self._running.values()], return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                messages = await subscription.fetch(free, timeout=FETCH_TIMEOUT_S)
            except (NatsTimeoutError, asyncio.TimeoutError):
                # No job arrived in time (nats-py raises either, depending on the batch size).
                continue
            except Exception as exc:
                log.warning("fetching %s jobs failed, retrying: %s", self.kind.name, exc)
                await asyncio.sleep(FETCH_TIMEOUT_S)
                continue
            for message in messages:
                job_id = message.data.decode(errors="replace")
                if job_id in self._running:
                    # Redelivered while it runs here (heartbeats stalled past ack_wait). Acking
                    # would delete the message, stranding the job if this run fails: keep it
                    # pending and let the running job answer for it.
                    await message.in_progress()
                    self._running[job_id].delivery = message
                    continue
                task = asyncio.create_task(self._handle(job_id))
                self._running[job_id] = _Running(task, message)
                task.add_done_callback(lambda _, job_id=job_id: self._running.pop(job_id, None))

    async def _sweep_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                for job_id, headers in await self.store.unpublished(self.kind.name, SWEEP_AGE_S):
                    await publish(self.nc, self.kind, job_id, headers)
                    await self.store.mark_published(job_id)
                    log.info("queued job %s that was recorded while the queue was down", job_id)
            except Exception as exc:
                log.warning("sweeping unqueued %s jobs failed: %s", self.kind.name, exc)

    async def _heartbeat(self, job: JobContext, task: asyncio.Task[Any]) -> None:
        """Tells JetStream the job is alive, and watches its record: for a cancel, and for a
        later attempt (JetStream gave up on this worker, e.g. cut off from NATS), which ends
        this run at once — the record, not the queue, decides who runs a job."""
        beat_every = self.kind.ack_wait_s / 3
        since_beat = 0.0
        while not task.done():
            step = min(beat_every, CANCEL_POLL_S)
            await asyncio.sleep(step)
            since_beat += step
            if since_beat >= beat_every:
                since_beat = 0.0
                try:
                    await self._running[job.id].delivery.in_progress()
                except Exception as exc:
                    # At worst the job is redelivered while it runs; the record decides who wins.
                    log.warning("heartbeat of job %s failed: %s", job.id, exc)
            try:
                record = await self.store.get(job.id)
            except Exception as exc:
                log.warning("reading the record of job %s failed: %s", job.id, exc)
                continue
            if record.attempts != job.attempt or record.terminal:
                job.taken_over = True
                task.cancel()
                return
            if record.cancel_requested:
                self._cancel(job)

    async def _handle(self, job_id: str) -> None:
        running = self._running[job_id]
        headers = running.delivery.headers or {}
        request_id.set(headers.get(REQUEST_ID_HEADER, job_id))
        # A child of the request that queued the job (its trace context rode in the headers).
        with tracing.tracer.start_as_current_span(
            f"job {self.kind.name}", tracing.extract(headers), kind=trace.SpanKind.CONSUMER, attributes={"stackmesh.job_id": job_id}
        ):
            await self._handle_traced(running, job_id)

    async def _handle_traced(self, running: _Running, job_id: str) -> None:
        try:
            await self._run(running, job_id)
        except asyncio.CancelledError:
            # The runner is stopping: the job stays unacked and comes back to another worker.
            raise
        except Exception as exc:
            # Reading or recording the job failed (Postgres or NATS away): it comes back soon
            # and the handler, being idempotent, picks up where it was.
            log.warning("handling job %s failed, redelivering it: %s", job_id, exc)
            with contextlib.suppress(Exception):
                await running.delivery.nak(delay=REDELIVER_AFTER_FAILURE_S)

    async def _run(self, running: _Running, job_id: str) -> None:
        try:
            record = await self.store.get(job_id, kind=self.kind.name)
        except NotFound:
            log.error("dropping a %s message for unknown job %s", self.kind.name, job_id)
            await running.delivery.term()
            return
        if record.terminal:
            await running.delivery.ack_sync()
            return
        # The job runs for whoever submitted it: peer calls and jobs it submits carry them.
        principal.set(record.owner)
        attributes.set(record.owner_attributes)
        started = await self.store.start(job_id)
        if started is None:
            # Its cancel was requested before a worker got to it.
            await self.store.finish(job_id, "cancelled")
            await self.handler.cancelled_unstarted(record)
            await running.delivery.ack_sync()
            return
        job = JobContext(
            record=started,
            payload=started.unpack(self.handler.payload_type),
            attempt=started.attempts,
            last_attempt=started.attempts >= self.kind.max_deliver,
            store=self.store,
        )
        if started.attempts > self.kind.max_deliver:
            # JetStream's spare delivery: every run ended with its worker gone (killed, or
            # stopped before it finished), so none recorded a failure. Fail it here rather
            # than start a run that no further delivery would rescue.
            error = WorkerLost(f"the job's worker stopped during each of its {self.kind.max_deliver} runs")
            await self._record(running.delivery, job, "error", error)
            return
        work = asyncio.create_task(self.handler.run(job))
        running.job = job
        heartbeat = asyncio.create_task(self._heartbeat(job, work))
        cutter = asyncio.create_task(self._cut_after_cancel(job, work))
        try:
            outcome = await self._outcome(job, work)
        finally:
            heartbeat.cancel()
            cutter.cancel()
        await self._record(running.delivery, job, *outcome)

    async def _cut_after_cancel(self, job: JobContext, work: asyncio.Task[Any]) -> None:
        """A handler that ignores a cancel is cut after the kind's grace period."""
        await job.cancel_requested.wait()
        await asyncio.sleep(self.kind.cancel_grace_s)
        work.cancel()

    async def _outcome(self, job: JobContext, work: asyncio.Task[Any]) -> tuple[str, Any]:
        try:
            return "done", await asyncio.shield(work)
        except asyncio.CancelledError:
            if work.cancelled() and (job.cancel_requested.is_set() or job.taken_over):
                return "done", None
            # The runner itself is stopping: stop the handler too, and hand the job back.
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            raise
        except Exception as exc:
            return "error", exc

    async def _record(self, message: Msg, job: JobContext, outcome: str, value: Any) -> None:
        if job.taken_over:
            self._left_to_later_attempt(job)
            return
        if outcome == "done":
            state = "cancelled" if job.cancel_requested.is_set() else "completed"
            if await self.store.finish(job.id, state, result=value, attempt=job.attempt) is None:
                self._left_to_later_attempt(job)
                return
            await message.ack_sync()
            log.info("job %s %s", job.id, state, extra={"fields": {"attempt": job.attempt}})
            return
        error: BaseException = value
        if isinstance(error, PermanentJobError) or job.last_attempt:
            log.warning("job %s failed for good on attempt %d: %s", job.id, job.attempt, error)
            await self.handler.failed(job, error)
            if await self.store.finish(job.id, "failed", error=error_of(error), attempt=job.attempt) is None:
                self._left_to_later_attempt(job)
                return
            await message.term()
            return
        # Exponential backoff keeps a failing dependency from being hammered.
        delay = min(2.0**job.attempt, 60.0)
        log.warning("job %s attempt %d failed, retrying in %.0f s: %s", job.id, job.attempt, delay, error)
        await message.nak(delay=delay)

    @staticmethod
    def _left_to_later_attempt(job: JobContext) -> None:
        # Its delivery is stale: acking or naking it could settle the message the newer run
        # holds, so this run leaves the message, the record and the result to that run.
        log.warning("job taken over", extra={"fields": {"job_id": job.id, "attempt": job.attempt}})

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stops fetching, gives running jobs `grace_s` to finish, then hands the rest back unacked."""
        self._stopping.set()
        # Unsubscribed, a pull left pending cannot take (and waste) a delivery of a job that
        # should go to another worker, when the connection outlives the runner.
        for subscription in (self._subscription, self._cancel_subscription):
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = [r.task for r in self._running.values()]
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
