"""Job kinds, their JetStream streams, and submitting and cancelling jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from psycopg_pool import AsyncConnectionPool

from stackmesh_common.call_context import REQUEST_ID_HEADER, principal, request_id
from stackmesh_common.config import ConfigError, NatsConfig
from stackmesh_common.jobs.store import JobRecord, JobStore

log = logging.getLogger("stackmesh.jobs")

# JetStream drops a second publish with the same id within its duplicate window (2 min).
DEDUPE_HEADER = "Nats-Msg-Id"
# Seconds to wait for JetStream to confirm a publish; past it the sweeper publishes later.
PUBLISH_TIMEOUT_S = 2.0
# How long a cancel waits for the running worker to confirm it.
CANCEL_CONFIRM_S = 1.0


async def connect(config: NatsConfig, name: str) -> NatsClient:
    """Connects to NATS (reconnecting forever after), failing fast with the URL at start."""
    if not config.url:
        raise ConfigError("nats.url is not set (STACKMESH_NATS__URL)")
    try:
        return await nats.connect(
            config.url, name=name, connect_timeout=5, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
    except Exception as exc:
        raise ConfigError(f"cannot connect to NATS at {config.url}: {exc}") from exc


@dataclass(frozen=True)
class JobKind:
    """One kind of job and its delivery policy."""

    name: str  # e.g. "batch", "file_ingestion"
    # Seconds without an ack or heartbeat before JetStream redelivers a job.
    ack_wait_s: float = 30.0
    # Deliveries before a job fails for good.
    max_deliver: int = 5
    # Seconds a cancelled handler gets to wind down (write partial results) before it is cut.
    cancel_grace_s: float = 10.0

    @property
    def stream(self) -> str:
        return f"JOBS_{self.name.upper()}"

    @property
    def subject(self) -> str:
        return f"stackmesh.jobs.{self.name}"

    @property
    def cancel_subject(self) -> str:
        # Core NATS, not JetStream: every worker of the kind hears it at once.
        return f"stackmesh.jobs.{self.name}.cancel"

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
            # The job record counts attempts; JetStream only stops a message that keeps
            # killing its workers.
            max_deliver=kind.max_deliver + 1,
            filter_subject=kind.subject,
        ),
    )


async def publish(nc: NatsClient, kind: JobKind, job_id: str, headers: dict[str, str] | None = None) -> None:
    """Publishes a job id and waits until JetStream has stored it."""
    await nc.jetstream().publish(
        kind.subject, job_id.encode(), timeout=PUBLISH_TIMEOUT_S, headers={DEDUPE_HEADER: job_id, **(headers or {})}
    )


class JobQueue:
    """Accepts jobs of any kind for one service: a record first, then its message."""

    def __init__(self, nc: NatsClient, pool: AsyncConnectionPool) -> None:
        self.nc = nc
        self.store = JobStore(pool)

    async def submit(
        self,
        kind: JobKind,
        job_id: str,
        payload: Message,
        *,
        metadata: dict[str, str] | None = None,
        total: int = 0,
    ) -> JobRecord:
        """Records the job for the caller and queues it. Idempotent by `job_id`: a second
        submit returns the first record. Once this returns the job is durable, even if
        NATS is down: the record is published when it is back."""
        record, created = await self.store.create(job_id, kind.name, payload, owner=principal.get(), metadata=metadata, total=total)
        if not created:
            return record
        # The request id lets the worker's logs join the request's; the owner is in the record.
        headers = {REQUEST_ID_HEADER: rid} if (rid := request_id.get()) else {}
        try:
            await publish(self.nc, kind, job_id, headers)
        except Exception as exc:
            log.warning("job %s is recorded but not queued yet (%s); the sweeper will queue it", job_id, exc)
            return record
        await self.store.mark_published(job_id)
        return record

    async def cancel(self, kind: JobKind, job_id: str) -> JobRecord:
        """Flags the job and tells its worker; a scheduled job is cancelled here. Returns once
        the running worker confirmed (it then starts no new work), or after CANCEL_CONFIRM_S
        when no worker answers (one that died; the flag ends the job on redelivery)."""
        record = await self.store.request_cancel(job_id)
        if record.state == "in_progress":
            try:
                await self.nc.request(kind.cancel_subject, job_id.encode(), timeout=CANCEL_CONFIRM_S)
            except Exception as exc:
                # The worker also polls the flag, so the cancel still arrives, a little later.
                log.warning("no worker confirmed the cancel of %s: %s", job_id, exc)
        return record
