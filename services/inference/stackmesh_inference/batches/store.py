"""Batch rows and their lines in Postgres; a batch is its creator's, and reads and changes
follow the access rules (stackmesh_common.access)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound
from stackmesh_common.paging import BATCHES, Page, page_limit

# Statuses after which nothing changes.
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
WINDOW_S = 24 * 3600

_COLUMNS = (
    "id, owner, endpoint, input_file_id, completion_window, metadata, status, model, errors, output_file_id,"
    " error_file_id, created_at, expires_at, in_progress_at, finalizing_at, completed_at, failed_at, expired_at,"
    " cancelling_at, cancelled_at"
)


@dataclass(frozen=True)
class BatchRecord:
    id: str
    owner: str
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str]
    status: str
    model: str | None
    errors: list[dict[str, Any]] | None
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    expires_at: int
    in_progress_at: int | None
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None


@dataclass(frozen=True)
class Counts:
    total: int = 0
    completed: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Line:
    """A validated request of a batch, or the error that keeps it from running."""

    line: int
    custom_id: str
    body: dict[str, Any] | None
    error: dict[str, Any] | None = None


def params_hash(input_file_id: str, endpoint: str, completion_window: str, metadata: dict[str, str]) -> str:
    canonical = json.dumps([input_file_id, endpoint, completion_window, metadata], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class BatchRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(
        self,
        batch_id: str,
        endpoint: str,
        input_file_id: str,
        completion_window: str,
        metadata: dict[str, str],
        idempotency_key: str | None,
    ) -> tuple[BatchRecord, bool]:
        """A new batch of the caller's in `validating`; with an idempotency key the caller
        already used, the earlier batch (same parameters) or a 409 (other parameters)."""
        owner = access.owner()
        digest = params_hash(input_file_id, endpoint, completion_window, metadata)
        now = int(time.time())
        try:
            async with self.pool.connection() as conn:
                row = await (
                    await conn.execute(
                        "INSERT INTO batches (id, owner, owner_attributes, endpoint, input_file_id, completion_window, metadata,"
                        " status, idempotency_key, params_hash, created_at, expires_at)"
                        f" VALUES (%s, %s, %s, %s, %s, %s, %s, 'validating', %s, %s, %s, %s) RETURNING {_COLUMNS}",
                        (batch_id, owner, access.owner_attributes_json(), endpoint, input_file_id, completion_window, Jsonb(metadata),
                         idempotency_key, digest, now, now + WINDOW_S),
                    )
                ).fetchone()
            return BatchRecord(*row), True
        except UniqueViolation:
            async with self.pool.connection() as conn:
                row = await (
                    await conn.execute(
                        f"SELECT {_COLUMNS}, params_hash FROM batches WHERE owner = %s AND idempotency_key = %s",
                        (owner, idempotency_key),
                    )
                ).fetchone()
            if row[-1] != digest:
                raise AlreadyExists(
                    f"idempotency key `{idempotency_key}` was used for batch {row[0]} with other parameters",
                    param="idempotency_key",
                    reason="idempotency_key_reused",
                ) from None
            return BatchRecord(*row[:-1]), False

    async def get(self, batch_id: str, action: Action | None = None) -> BatchRecord:
        """The batch; with `action`, only if the caller may do it (else as absent as a missing
        one); without, unchecked (the batch's own job)."""
        condition, args = access.sql_filter(action) if action is not None else ("TRUE", [])
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM batches WHERE id = %s AND {condition}", (batch_id, *args))
            ).fetchone()
        if row is None:
            raise NotFound(f"batch `{batch_id}` not found", param="batch_id")
        return BatchRecord(*row)

    async def list(self, after: str, limit: int | None) -> Page[BatchRecord]:
        """A page of the batches the caller may read, newest first; a cursor it may not read is unknown."""
        limit = page_limit(limit, BATCHES)
        readable, readable_args = access.sql_filter(Action.READ)
        args: list[Any] = [*readable_args]
        condition = ""
        async with self.pool.connection() as conn:
            if after:
                cursor = await (
                    await conn.execute(f"SELECT seq FROM batches WHERE id = %s AND {readable}", (after, *readable_args))
                ).fetchone()
                if cursor is None:
                    raise InvalidArgument(f"`after` names an unknown batch: {after}", param="after")
                condition = " AND seq < %s"
                args.extend(cursor)
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM batches WHERE {readable}{condition} ORDER BY seq DESC LIMIT %s",
                    (*args, limit + 1),
                )
            ).fetchall()
        return Page([BatchRecord(*row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def set_status(self, batch_id: str, status: str, *, only_from: tuple[str, ...] | None = None, **fields: Any) -> bool:
        """Sets the status and its `<status>_at` time (plus any `fields`); False when the
        batch was not in one of `only_from` (or already final)."""
        assignments = {"status": status, **fields}
        stamp = f"{status}_at"
        if stamp in {"in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at"}:
            assignments.setdefault(stamp, int(time.time()))
        columns = ", ".join(f"{name} = %s" for name in assignments)
        values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in assignments.values()]
        condition = "status <> ALL(%s)"
        args: list[Any] = [list(FINAL)]
        if only_from is not None:
            condition += " AND status = ANY(%s)"
            args.append(list(only_from))
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"UPDATE batches SET {columns} WHERE id = %s AND {condition}", (*values, batch_id, *args))
            return cur.rowcount == 1

    async def add_lines(self, batch_id: str, lines: list[Line], model: str | None) -> None:
        """Stores the validated lines and starts the batch, in one transaction (a redelivered
        validation finds them stored and skips ahead)."""
        async with self.pool.connection() as conn:
            async with conn.transaction():
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO batch_lines (batch_id, line, custom_id, status, body, result) VALUES (%s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        [
                            (batch_id, l.line, l.custom_id, "failed" if l.error else "pending", Jsonb(l.body) if l.body is not None else None, Jsonb({"response": None, "error": l.error}) if l.error else None)
                            for l in lines
                        ],
                    )
                await conn.execute(
                    "UPDATE batches SET status = 'in_progress', in_progress_at = %s, model = %s WHERE id = %s AND status = 'validating'",
                    (int(time.time()), model, batch_id),
                )

    async def pending(self, batch_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT line, custom_id, body FROM batch_lines WHERE batch_id = %s AND status = 'pending' ORDER BY line", (batch_id,)
                )
            ).fetchall()
        return [tuple(row) for row in rows]

    async def finish_line(self, batch_id: str, line: int, status: str, result: dict[str, Any], input_tokens: int = 0, output_tokens: int = 0) -> bool:
        """Records a line's outcome once; False when it already had one."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE batch_lines SET status = %s, result = %s, input_tokens = %s, output_tokens = %s"
                " WHERE batch_id = %s AND line = %s AND status = 'pending'",
                (status, Jsonb(result), input_tokens, output_tokens, batch_id, line),
            )
            return cur.rowcount == 1

    async def counts(self, batch_ids: list[str]) -> dict[str, Counts]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT batch_id, count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),"
                    " coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0)"
                    " FROM batch_lines WHERE batch_id = ANY(%s) GROUP BY batch_id",
                    (batch_ids,),
                )
            ).fetchall()
        return {row[0]: Counts(*(int(v) for v in row[1:])) for row in rows}

    async def results(self, batch_id: str, status: str) -> list[tuple[str, dict[str, Any]]]:
        """(custom_id, result) of the lines with `status`, in input order."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT custom_id, result FROM batch_lines WHERE batch_id = %s AND status = %s ORDER BY line", (batch_id, status)
                )
            ).fetchall()
        return [tuple(row) for row in rows]

    async def abandon_pending(self, batch_id: str, code: str, message: str) -> None:
        """Fails what never ran (a cancelled or expired batch), so the error file lists it."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE batch_lines SET status = 'failed', result = %s WHERE batch_id = %s AND status = 'pending'",
                (Jsonb({"response": None, "error": {"code": code, "message": message}}), batch_id),
            )

    async def record_file(self, batch_id: str, column: str, file_id: str) -> None:
        if column not in ("output_file_id", "error_file_id"):
            raise ValueError(column)
        async with self.pool.connection() as conn:
            await conn.execute(f"UPDATE batches SET {column} = %s WHERE id = %s", (file_id, batch_id))
