"""Durable jobs on NATS JetStream: submit a `stackmesh.common.v1.Job`, run it on a worker pool.

Each job kind has its own work-queue stream (`JOBS_<KIND>`, subject `stackmesh.jobs.<kind>`)
and one durable pull consumer shared by every worker process, so a job runs on one worker
at a time. A worker acks only after the handler returns; while the handler runs it sends
`in_progress` heartbeats, so a long job is never redelivered to a second worker, and a job
whose worker died comes back after `ack_wait`. Delivery is at least once: handlers must be
idempotent. The request id travels in a header, so a job's logs carry the request's id.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import BadRequestError
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from stackmesh.common.v1 import job_pb2
from stackmesh_common.config import ConfigError, NatsConfig
from stackmesh_common.errors import Unavailable
from stackmesh_common.logging import request_id

log = logging.getLogger("stackmesh.jobs")

REQUEST_ID_HEADER = "x-request-id"
# JetStream drops a second publish with the same id within its duplicate window (2 min).
DEDUPE_HEADER = "Nats-Msg-Id"
# Seconds to wait for JetStream to confirm a publish before the submit fails.
PUBLISH_TIMEOUT_S = 5.0
# How long one fetch waits for jobs; bounds how late a stopping worker notices.
FETCH_TIMEOUT_S = 1.0


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (bad input): the job is not redelivered."""


async def connect(config: NatsConfig, name: str) -> NatsClient:
    """Connects to NATS, failing fast with the URL when it cannot."""
    if not config.url:
        raise ConfigError("nats.url is not set (STACKMESH_NATS__URL)")
    try:
        return await nats.connect(config.url, name=name, connect_timeout=5, max_reconnect_attempts=-1)
    except Exception as exc:
        raise ConfigError(f"cannot connect to NATS at {config.url}: {exc}") from exc


@dataclass(frozen=True)
class JobKind:
    """One kind of job and its delivery policy."""

    name: str  # e.g. "file_ingestion"
    # Seconds without an ack or heartbeat before JetStream redelivers a job.
    ack_wait_s: float = 30.0
    # Deliveries before JetStream gives up on a job; the last failure calls `give_up`.
    max_deliver: int = 5

    @property
    def stream(self) -> str:
        return f"JOBS_{self.name.upper()}"

    @property
    def subject(self) -> str:
        return f"stackmesh.jobs.{self.name}"

    @property
    def durable(self) -> str:
        return f"{self.name}-workers"


async def ensure_stream(nc: NatsClient, kind: JobKind) -> None:
    """Creates (or updates) the kind's work-queue stream and its durable consumer."""
    js = nc.jetstream()
    stream = StreamConfig(
        name=kind.stream, subjects=[kind.subject], retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE
    )
    try:
        await js.add_stream(stream)
    except BadRequestError:
        await js.update_stream(stream)
    await js.add_consumer(
        kind.stream,
        ConsumerConfig(
            durable_name=kind.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=kind.ack_wait_s,
            max_deliver=kind.max_deliver,
            filter_subject=kind.subject,
        ),
    )


async def submit(nc: NatsClient, kind: JobKind, job: job_pb2.Job, dedupe_id: str) -> None:
    """Publishes a job and waits until JetStream has stored it."""
    headers = {DEDUPE_HEADER: dedupe_id}
    if rid := request_id.get():
        headers[REQUEST_ID_HEADER] = rid
    try:
        await nc.jetstream().publish(kind.subject, job.SerializeToString(), timeout=PUBLISH_TIMEOUT_S, headers=headers)
    except Exception as exc:
        raise Unavailable(f"the job queue is unavailable, retry: {exc}") from exc


@dataclass
class Delivery:
    """One delivery of a job to a handler."""

    job: job_pb2.Job
    # 1 on the first delivery, 2 on the first redelivery, ...
    attempt: int
    # True when JetStream will not deliver the job again if this attempt fails.
    last_attempt: bool


class JobHandler(Protocol):
    async def run(self, delivery: Delivery) -> None:
        """Does the job; raises PermanentJobError for bad input, anything else to retry."""

    async def give_up(self, delivery: Delivery, error: BaseException) -> None:
        """Records the failure of a job that will not be retried."""


class JobWorker:
    """Runs up to `concurrency` jobs of one kind at a time from the kind's durable consumer."""

    def __init__(self, nc: NatsClient, kind: JobKind, handler: JobHandler, concurrency: int) -> None:
        self.nc = nc
        self.kind = kind
        self.handler = handler
        self.concurrency = concurrency
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await ensure_stream(self.nc, self.kind)
        subscription = await self.nc.jetstream().pull_subscribe_bind(self.kind.durable, self.kind.stream)
        self._loop = asyncio.create_task(self._fetch_loop(subscription))

    async def _fetch_loop(self, subscription: object) -> None:
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                messages = await subscription.fetch(free, timeout=FETCH_TIMEOUT_S)  # type: ignore[attr-defined]
            except (NatsTimeoutError, asyncio.TimeoutError):
                # No job arrived in time (nats-py raises either, depending on the batch size).
                continue
            except Exception:
                log.exception("fetching %s jobs failed", self.kind.name)
                await asyncio.sleep(FETCH_TIMEOUT_S)
                continue
            for message in messages:
                task = asyncio.create_task(self._handle(message))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _heartbeat(self, message: Msg) -> None:
        while True:
            await asyncio.sleep(self.kind.ack_wait_s / 3)
            try:
                await message.in_progress()
            except Exception as exc:
                # A lost connection reconnects; a missed beat at worst lets the job be redelivered.
                log.warning("heartbeat of a %s job failed: %s", self.kind.name, exc)

    async def _handle(self, message: Msg) -> None:
        try:
            job = job_pb2.Job.FromString(message.data)
        except Exception:
            log.error("dropping a %s job that is not a Job message", self.kind.name)
            await message.term()
            return
        attempt = message.metadata.num_delivered
        delivery = Delivery(job, attempt, last_attempt=attempt >= self.kind.max_deliver)
        token = request_id.set((message.headers or {}).get(REQUEST_ID_HEADER, job.id))
        heartbeat = asyncio.create_task(self._heartbeat(message))
        try:
            await self._run(message, delivery)
        except Exception:
            # Recording the outcome failed; unacked, the job comes back after ack_wait.
            log.exception("handling job %s failed", job.id)
        finally:
            heartbeat.cancel()
            request_id.reset(token)

    async def _run(self, message: Msg, delivery: Delivery) -> None:
        job = delivery.job
        try:
            await self.handler.run(delivery)
        except asyncio.CancelledError:
            # The worker is stopping: leave the job unacked, JetStream redelivers it elsewhere.
            raise
        except PermanentJobError as exc:
            log.warning("job %s failed permanently: %s", job.id, exc)
            await self.handler.give_up(delivery, exc)
            await message.term()
            return
        except Exception as exc:
            if delivery.last_attempt:
                log.exception("job %s failed on its last attempt (%d)", job.id, delivery.attempt)
                await self.handler.give_up(delivery, exc)
                await message.term()
                return
            # Exponential backoff keeps a failing dependency from being hammered.
            delay = min(2.0 ** delivery.attempt, 60.0)
            log.warning("job %s attempt %d failed, retrying in %.0f s: %s", job.id, delivery.attempt, delay, exc)
            await message.nak(delay=delay)
            return
        await message.ack_sync()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stops fetching, gives running jobs `grace_s` to finish, then abandons the rest unacked."""
        self._stopping.set()
        if self._loop is not None:
            await self._loop
        if self._running:
            _, pending = await asyncio.wait(self._running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
