"""Job records in the service's Postgres schema: the state machine, progress, and watching.

scheduled → in_progress → completed | failed | cancelled; a cancel of a scheduled job ends
it at once, of a running one sets `cancel_requested` for its worker. Every change notifies
`stackmesh_jobs` with the job id, which `watch` waits on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import Message
from psycopg import AsyncConnection, OperationalError
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh.common.v1 import job_pb2
from stackmesh_common import access
from stackmesh_common.errors import FailedPrecondition, InvalidArgument, NotFound, StackmeshError
from stackmesh_common.paging import JOBS, Page, page_limit, sort_order

log = logging.getLogger("stackmesh.jobs")

M = TypeVar("M", bound=Message)

TERMINAL = frozenset({"completed", "failed", "cancelled"})
NOTIFY_CHANNEL = "stackmesh_jobs"
# A watcher re-reads the record at least this often, in case a notification was missed
# (e.g. while Postgres restarted).
WATCH_POLL_S = 1.0

_STATES = {
    "scheduled": job_pb2.JOB_STATE_SCHEDULED,
    "in_progress": job_pb2.JOB_STATE_IN_PROGRESS,
    "completed": job_pb2.JOB_STATE_COMPLETED,
    "failed": job_pb2.JOB_STATE_FAILED,
    "cancelled": job_pb2.JOB_STATE_CANCELLED,
}
_COLUMNS = (
    "id, kind, state, payload, owner, metadata, progress_completed, progress_total, phase, result, error, attempts,"
    " cancel_requested, extract(epoch from created_at)::int, extract(epoch from started_at)::int,"
    " extract(epoch from completed_at)::int, extract(epoch from updated_at)::float8, owner_attributes"
)


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    state: str
    payload: bytes
    owner: str
    metadata: dict[str, str]
    completed: int
    total: int
    phase: str
    result: dict[str, Any] | None
    # {"code": grpc code number, "message": ..., "reason": ...} once failed.
    error: dict[str, Any] | None
    attempts: int
    cancel_requested: bool
    created_at: int
    started_at: int | None
    completed_at: int | None
    updated_at: float
    owner_attributes: dict[str, list[str]]

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def require_completed(self) -> None:
        """Refuses reading the result of a job that has not completed (yet, or ever)."""
        if self.state != "completed":
            raise FailedPrecondition(
                f"job `{self.id}` is {self.state}; its result is available once it has completed", param="job_id", reason="job_not_completed"
            )

    def unpack(self, message_type: type[M]) -> M:
        envelope = any_pb2.Any.FromString(self.payload)
        message = message_type()
        if not envelope.Unpack(message):
            raise TypeError(f"job {self.id} carries a {envelope.type_url}, not a {message_type.DESCRIPTOR.full_name}")
        return message

    def to_proto(self) -> job_pb2.Job:
        job = job_pb2.Job(
            id=self.id,
            kind=self.kind,
            state=_STATES[self.state],
            progress=job_pb2.JobProgress(completed=self.completed, total=self.total, phase=self.phase),
            created_at=self.created_at,
            started_at=self.started_at or 0,
            completed_at=self.completed_at or 0,
            metadata=self.metadata,
            attempts=self.attempts,
            owner=self.owner,
            cancel_requested=self.cancel_requested,
        )
        if self.result is not None:
            job.result.update(self.result)
        if self.error is not None:
            job.error.code = int(self.error.get("code", 2))
            job.error.message = str(self.error.get("message", ""))
        return job


def _record(row: tuple) -> JobRecord:
    return JobRecord(*row)


def _pack(payload: Message) -> bytes:
    envelope = any_pb2.Any()
    envelope.Pack(payload)
    return envelope.SerializeToString()


class JobStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _update(
        self, job_id: str, assignments: str, condition: str, args: tuple[Any, ...] = (), condition_args: tuple[Any, ...] = ()
    ) -> JobRecord | None:
        """Applies `assignments` (taking `args`) when `condition` (taking `condition_args`)
        holds; notifies watchers; the new record or None."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"UPDATE jobs SET {assignments}, updated_at = now() WHERE id = %s AND ({condition}) RETURNING {_COLUMNS}",
                    (*args, job_id, *condition_args),
                )
            ).fetchone()
            if row is not None:
                await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, job_id))
        return None if row is None else _record(row)

    async def create(
        self,
        job_id: str,
        kind: str,
        payload: Message,
        *,
        metadata: dict[str, str] | None = None,
        total: int = 0,
        message_headers: dict[str, str] | None = None,
    ) -> tuple[JobRecord, bool]:
        """Inserts a scheduled job owned by the caller; (record, False) when a job with this id
        already exists (one the caller may not see is a 409 as well: ids are global).
        `message_headers` go with every publish of its message (the sweeper's too)."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO jobs (id, kind, state, payload, owner, owner_attributes, metadata, progress_total, message_headers)"
                    f" VALUES (%s, %s, 'scheduled', %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}",
                    (
                        job_id, kind, _pack(payload), access.owner(), access.owner_attributes_json(), Jsonb(metadata or {}), total,
                        Jsonb(message_headers or {}),
                    ),
                )
            ).fetchone()
        if row is not None:
            return _record(row), True
        return await self.get(job_id), False

    async def get(self, job_id: str, *, kind: str | None = None, action: access.Action | None = None) -> JobRecord:
        """The job; with `action`, only if the caller may do it (else as absent as a missing
        one: another tenant's job's existence is not leaked)."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_id,))).fetchone()
        if row is None or (kind is not None and row[1] != kind):
            raise NotFound(f"job `{job_id}` not found", param="job_id")
        record = _record(row)
        if action is not None and not access.allows(record.owner, record.owner_attributes, action):
            raise NotFound(f"job `{job_id}` not found", param="job_id")
        return record

    async def list(
        self,
        kind: str,
        *,
        metadata: dict[str, str] | None = None,
        after: str = "",
        limit: int | None = None,
        order: str = "desc",
    ) -> Page[JobRecord]:
        """A page of the kind's jobs the caller may see; `metadata` keeps those whose metadata
        holds all its pairs."""
        limit, order = page_limit(limit, JOBS), sort_order(order)
        comparison = "<" if order == "desc" else ">"
        visible, visible_args = access.sql_filter()
        conditions, args = ["kind = %s", visible], [kind, *visible_args]
        if metadata:
            conditions.append("metadata @> %s")
            args.append(Jsonb(metadata))
        async with self.pool.connection() as conn:
            if after:
                # A job the caller may not see is as unknown here as anywhere.
                cursor = await (
                    await conn.execute(f"SELECT created_at, id FROM jobs WHERE id = %s AND kind = %s AND {visible}", (after, kind, *visible_args))
                ).fetchone()
                if cursor is None:
                    raise InvalidArgument(f"`after` names an unknown {kind} job: {after}", param="after")
                conditions.append(f"(created_at, id) {comparison} (%s, %s)")
                args.extend(cursor)
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE {' AND '.join(conditions)}"
                    f" ORDER BY created_at {order}, id {order} LIMIT %s",
                    (*args, limit + 1),
                )
            ).fetchall()
        return Page([_record(row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def mark_published(self, job_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE jobs SET published = true WHERE id = %s", (job_id,))

    async def unpublished(self, kind: str, older_than_s: float) -> list[tuple[str, dict[str, str]]]:
        """(id, message headers) of scheduled jobs JetStream never confirmed, oldest first."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, message_headers FROM jobs WHERE kind = %s AND NOT published AND state = 'scheduled'"
                    " AND created_at < now() - make_interval(secs => %s) ORDER BY created_at LIMIT 1000",
                    (kind, older_than_s),
                )
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    async def start(self, job_id: str) -> JobRecord | None:
        """Claims a delivery: in_progress with one more attempt; None when the job is over."""
        return await self._update(
            job_id,
            "state = 'in_progress', attempts = attempts + 1, started_at = coalesce(started_at, now())",
            "state IN ('scheduled', 'in_progress') AND NOT cancel_requested",
        )

    async def progress(
        self, job_id: str, completed: int, total: int | None = None, phase: str | None = None, *, attempt: int | None = None
    ) -> bool:
        """Records progress of a running job (of its `attempt`: a run a later one has taken
        over writes nothing); False when nothing was written."""
        fence, fence_args = _attempt_fence(attempt)
        return (
            await self._update(
                job_id,
                "progress_completed = %s, progress_total = coalesce(%s, progress_total), phase = coalesce(%s, phase)",
                f"state = 'in_progress'{fence}",
                (completed, total, phase),
                fence_args,
            )
            is not None
        )

    async def finish(
        self,
        job_id: str,
        state: str,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        attempt: int | None = None,
    ) -> JobRecord | None:
        """Moves a job that is not over yet to a terminal state; None when it already was, or
        when `attempt` is given and a later attempt has taken the job over."""
        if state not in TERMINAL:
            raise ValueError(f"{state!r} is not a terminal job state")
        fence, fence_args = _attempt_fence(attempt)
        return await self._update(
            job_id,
            "state = %s, result = coalesce(%s, result), error = %s, completed_at = now()",
            f"state NOT IN ('completed', 'failed', 'cancelled'){fence}",
            (state, Jsonb(result) if result is not None else None, Jsonb(error) if error is not None else None),
            fence_args,
        )

    async def request_cancel(self, job_id: str) -> JobRecord:
        """A scheduled job is cancelled at once; a running one is flagged for its worker."""
        record = await self._update(
            job_id,
            "state = CASE WHEN state = 'scheduled' THEN 'cancelled' ELSE state END,"
            " completed_at = CASE WHEN state = 'scheduled' THEN now() ELSE completed_at END,"
            " cancel_requested = true",
            "state IN ('scheduled', 'in_progress')",
        )
        return record or await self.get(job_id)

    async def watch(self, job_id: str) -> AsyncIterator[JobRecord]:
        """Yields the record now and after every change, until it is terminal."""
        conninfo = self.pool.conninfo
        last: float | None = None
        conn: AsyncConnection | None = None
        try:
            while True:
                if conn is None:
                    try:
                        conn = await AsyncConnection.connect(conninfo, autocommit=True)
                        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    except Exception as exc:
                        log.warning("cannot listen for job changes, polling: %s", exc)
                        conn = None
                try:
                    record = await self.get(job_id)
                except OperationalError as exc:
                    # Postgres is restarting: the job is still there, wait for it to be back.
                    log.warning("reading job %s failed, retrying: %s", job_id, exc)
                    await asyncio.sleep(WATCH_POLL_S)
                    continue
                if record.updated_at != last:
                    last = record.updated_at
                    yield record
                if record.terminal:
                    return
                try:
                    await self._wait_for(conn, job_id)
                except Exception:
                    # The listening connection died (a Postgres restart): reconnect next round.
                    if conn is not None:
                        await conn.close()
                    conn = None
                    await asyncio.sleep(WATCH_POLL_S)
        finally:
            if conn is not None:
                await conn.close()

    @staticmethod
    async def _wait_for(conn: AsyncConnection | None, job_id: str) -> None:
        if conn is None:
            await asyncio.sleep(WATCH_POLL_S)
            return
        async for notice in conn.notifies(timeout=WATCH_POLL_S):
            if notice.payload == job_id:
                return


class JobChanges:
    """Wakes a waiter as soon as a job whose id starts with `prefix` changes (LISTEN/NOTIFY):
    a coordinator following its child jobs. Without a listening connection it polls."""

    def __init__(self, pool: AsyncConnectionPool, prefix: str) -> None:
        self.conninfo = pool.conninfo
        self.prefix = prefix
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> JobChanges:
        try:
            self._conn = await AsyncConnection.connect(self.conninfo, autocommit=True)
            await self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except Exception as exc:
            log.warning("cannot listen for job changes, polling: %s", exc)
            self._conn = None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def wait(self, timeout_s: float) -> None:
        """Returns at the first change of a matching job, or after `timeout_s`."""
        if self._conn is None:
            await asyncio.sleep(timeout_s)
            return
        try:
            async for notice in self._conn.notifies(timeout=timeout_s):
                if notice.payload.startswith(self.prefix):
                    return
        except Exception as exc:
            # The listening connection died (a Postgres restart): poll from now on.
            log.warning("listening for job changes failed, polling: %s", exc)
            await self._conn.close()
            self._conn = None


def _attempt_fence(attempt: int | None) -> tuple[str, tuple[int, ...]]:
    """The condition that a write comes from the job's newest run: a worker cut off from the
    queue may still reach Postgres after JetStream gave its job to another worker."""
    return ("", ()) if attempt is None else (" AND attempts = %s", (attempt,))


def error_of(exc: BaseException) -> dict[str, Any]:
    """The `error` a failed job records: a gRPC code, a message a user can act on, a reason."""
    if isinstance(exc, StackmeshError):
        return {"code": exc.grpc_code.value[0], "message": exc.message, "reason": exc.reason}
    return {"code": 13, "message": f"the job failed: {exc}", "reason": "internal_error"}
