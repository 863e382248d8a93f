"""Job kinds, their JetStream streams, and submitting and cancelling jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.call_context import REQUEST_ID_HEADER, request_id
from stackmesh_common.config import ConfigError, NatsConfig
from stackmesh_common.jobs.store import JobRecord, JobStore
from stackmesh_common.telemetry import tracing

log = logging.getLogger("stackmesh.jobs")

# JetStream drops a second publish with the same id within its duplicate window (2 min).
DEDUPE_HEADER = "Nats-Msg-Id"
# Seconds to wait for JetStream to confirm a publish; past it the sweeper publishes later.
PUBLISH_TIMEOUT_S = 2.0
# How long a cancel waits for the running worker to confirm it.
CANCEL_CONFIRM_S = 1.0
# How the NATS server words a refused login (nats-py reports it as a plain error).
_AUTHORIZATION_VIOLATION = "authorization violation"


async def connect(config: NatsConfig, name: str) -> NatsClient:
    """Connects to NATS with the configured user and password (reconnecting forever after).

    A server that refuses the credentials fails the start at once: nats-py alone would retry
    them forever.
    """
    if not config.url:
        raise ConfigError("nats.url is not set (STACKMESH_NATS__URL)")
    where = _without_credentials(config.url)
    client = NatsClient()
    connected = False

    async def on_error(exc: Exception) -> None:
        if not connected and _AUTHORIZATION_VIOLATION in str(exc).lower():
            # Raised inside nats-py's first-connect loop, which it ends.
            raise ConfigError(f"NATS at {where} refused {_credentials(config)} (nats.user, nats.password)")
        log.warning("NATS: %s", exc)

    try:
        await client.connect(
            config.url,
            name=name,
            user=config.user or None,
            password=config.password or None,
            error_cb=on_error,
            connect_timeout=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
    except ConfigError:
        await client.close()
        raise
    except Exception as exc:
        await client.close()
        raise ConfigError(f"cannot connect to NATS at {where}: {exc}") from exc
    connected = True
    return client


def _credentials(config: NatsConfig) -> str:
    return f"the password of user {config.user!r}" if config.user else "a connection without credentials"


def _without_credentials(url: str) -> str:
    # Errors are logged: a password given in the URL (use nats.password instead) must not be.
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


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
        # The request id lets the worker's logs join the request's; the owner is in the record.
        headers = {REQUEST_ID_HEADER: rid} if (rid := request_id.get()) else {}
        tracing.inject(headers)  # the worker's spans join this request's trace
        record, created = await self.store.create(job_id, kind.name, payload, metadata=metadata, total=total, message_headers=headers)
        if not created:
            return record
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
        when no worker answers (one that died; the flag ends the job on redelivery). A job the
        caller may not change is not found."""
        await self.store.get(job_id, kind=kind.name, action=access.Action.WRITE)
        record = await self.store.request_cancel(job_id)
        if record.state == "in_progress":
            try:
                await self.nc.request(kind.cancel_subject, job_id.encode(), timeout=CANCEL_CONFIRM_S)
            except Exception as exc:
                # The worker also polls the flag, so the cancel still arrives, a little later.
                log.warning("no worker confirmed the cancel of %s: %s", job_id, exc)
        return record
