"""The control plane of vector stores in Postgres: stores, attached files (with their ingestion
status), file batches. Chunks live in each store's provider."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.paging import VECTOR_STORE_FILES, VECTOR_STORES, Page, page_limit, sort_order
from stackmesh_vector_io.db_errors import connection

STATUSES = ("in_progress", "completed", "cancelled", "failed")
DAY_S = 24 * 3600
# A store's last_active_at moves at most this often: searches do not each write a row.
TOUCH_INTERVAL_S = 60


def new_store_id() -> str:
    return f"vs_{uuid.uuid4().hex[:24]}"


def new_batch_id() -> str:
    return f"vsfb_{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True)
class FileCounts:
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    in_progress: int = 0
    total: int = 0


@dataclass(frozen=True)
class StoreRecord:
    id: str
    name: str | None
    owner: str
    provider_id: str
    embedding_model: str
    embedding_dimension: int
    metadata: dict[str, Any]
    expires_after_days: int | None
    created_at: int
    last_active_at: int

    @property
    def expires_at(self) -> int | None:
        return self.last_active_at + self.expires_after_days * DAY_S if self.expires_after_days else None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


@dataclass(frozen=True)
class StoreUsage:
    """What a store's files add up to; computed on read, so only reads that show it pay for it."""

    file_counts: FileCounts
    usage_bytes: int


@dataclass(frozen=True)
class StoreFileRecord:
    vector_store_id: str
    file_id: str
    generation: int
    batch_id: str | None
    status: str
    attributes: dict[str, Any]
    chunking: dict[str, int]
    usage_bytes: int
    chunk_count: int
    last_error_code: str | None
    last_error_message: str | None
    created_at: int


@dataclass(frozen=True)
class BatchRecord:
    id: str
    vector_store_id: str
    cancelled: bool
    created_at: int
    file_counts: FileCounts

    @property
    def status(self) -> str:
        counts = self.file_counts
        if self.cancelled:
            return "cancelled"
        if counts.in_progress:
            return "in_progress"
        return "failed" if counts.total and counts.failed == counts.total else "completed"


@dataclass(frozen=True)
class Attachment:
    """A file to attach, with its checked attributes and resolved chunking strategy."""

    file_id: str
    attributes: dict[str, Any]
    chunking: dict[str, int]


_COUNTS = (
    "count(*) FILTER (WHERE f.status = 'completed'), count(*) FILTER (WHERE f.status = 'cancelled'),"
    " count(*) FILTER (WHERE f.status = 'failed'), count(*) FILTER (WHERE f.status = 'in_progress'), count(*)"
)
_STORE = (
    "SELECT s.id, s.name, s.owner, s.provider_id, s.embedding_model, s.embedding_dimension, s.metadata,"
    " s.expires_after_days, s.created_at, s.last_active_at FROM vector_stores s"
)
_STORE_WITH_USAGE = (
    "SELECT s.id, s.name, s.owner, s.provider_id, s.embedding_model, s.embedding_dimension, s.metadata,"
    " s.expires_after_days, s.created_at, s.last_active_at, c.* FROM vector_stores s"
    f" CROSS JOIN LATERAL (SELECT {_COUNTS}, coalesce(sum(f.usage_bytes), 0)::bigint"
    " FROM vector_store_files f WHERE f.vector_store_id = s.id) c"
)
_FILE_COLUMNS = (
    "vector_store_id, file_id, generation, batch_id, status, attributes, chunking, usage_bytes, chunk_count,"
    " last_error_code, last_error_message, created_at"
)


def _store_access(action: Action | None) -> tuple[str, list[Any]]:
    """The condition keeping the stores (alias `s`) the caller may do `action` to; every
    store without an action (internal reads: ingestion, the expiry sweep)."""
    if action is None:
        return "TRUE", []
    return access.sql_filter(action, owner_column="s.owner", attributes_column="s.owner_attributes")


def _store_not_found(store_id: str) -> NotFound:
    # The same answer for a store the caller may not see as for one that does not exist.
    return NotFound(f"vector store `{store_id}` not found", param="vector_store_id")


def _store_with_usage(row: tuple[Any, ...]) -> tuple[StoreRecord, StoreUsage]:
    return StoreRecord(*row[:10]), StoreUsage(FileCounts(*row[10:15]), row[15])


def _keyset(order: str, before: bool) -> tuple[str, str]:
    """The comparison with the cursor's seq and the ORDER BY direction of a page.

    A `before` page is read backwards from the cursor, then reversed.
    """
    descending = (order == "desc") != before
    return ("<" if descending else ">"), ("DESC" if descending else "ASC")


class StoreRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    # Stores.

    async def create_store(
        self, store_id: str, name: str | None, provider_id: str, embedding_model: str, dimension: int,
        metadata: dict[str, Any], expires_after_days: int | None,
    ) -> StoreRecord:  # fmt: skip
        """A new store of the caller's."""
        now = int(time.time())
        async with connection(self.pool) as conn:
            await conn.execute(
                "INSERT INTO vector_stores (id, name, owner, owner_attributes, provider_id, embedding_model, embedding_dimension,"
                " metadata, expires_after_days, created_at, last_active_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (store_id, name, access.owner(), access.owner_attributes_json(), provider_id, embedding_model, dimension,
                 Jsonb(metadata), expires_after_days, now, now),
            )  # fmt: skip
        return await self.get_store(store_id)

    async def get_store(self, store_id: str, action: Action | None = None) -> StoreRecord:
        """The store; with `action`, only if the caller may do it (else as absent as a missing
        one). A store's files and file batches share its access: check it first."""
        condition, args = _store_access(action)
        async with connection(self.pool) as conn:
            row = await (await conn.execute(f"{_STORE} WHERE s.id = %s AND {condition}", (store_id, *args))).fetchone()
        if row is None:
            raise _store_not_found(store_id)
        return StoreRecord(*row)

    async def get_store_with_usage(self, store_id: str, action: Action | None = None) -> tuple[StoreRecord, StoreUsage]:
        condition, args = _store_access(action)
        async with connection(self.pool) as conn:
            row = await (await conn.execute(f"{_STORE_WITH_USAGE} WHERE s.id = %s AND {condition}", (store_id, *args))).fetchone()
        if row is None:
            raise _store_not_found(store_id)
        return _store_with_usage(row)

    @staticmethod
    async def _cursor(conn: AsyncConnection, query: str, args: tuple[Any, ...], value: str, param: str) -> int:
        """The seq of the row a cursor (`after` or `before`) names."""
        row = await (await conn.execute(query, args)).fetchone()
        if row is None:
            raise InvalidArgument(f"`{param}` names an unknown id: {value}", param=param)
        return row[0]

    async def list_stores(self, limit: int | None, order: str, after: str, before: str) -> Page[tuple[StoreRecord, StoreUsage]]:
        """The caller's page of the stores it may read; a cursor it may not read is unknown."""
        limit, order = page_limit(limit, VECTOR_STORES), sort_order(order)
        backwards = bool(before) and not after
        op, direction = _keyset(order, backwards)
        readable, readable_args = _store_access(Action.READ)
        async with connection(self.pool) as conn:
            where, args = f"WHERE {readable}", [*readable_args]
            if after or before:
                cursor_id = after or before
                seq = await self._cursor(
                    conn, f"SELECT s.seq FROM vector_stores s WHERE s.id = %s AND {readable}", (cursor_id, *readable_args),
                    cursor_id, "after" if after else "before",
                )  # fmt: skip
                where += f" AND s.seq {op} %s"
                args.append(seq)
            rows = await (
                await conn.execute(f"{_STORE_WITH_USAGE} {where} ORDER BY s.seq {direction} LIMIT %s", [*args, limit + 1])
            ).fetchall()
        items = [_store_with_usage(r) for r in rows[:limit]]
        if backwards:
            items.reverse()
        return Page(items, has_more=len(rows) > limit)

    async def update_store(
        self, store_id: str, name: str | None, expires_after_days: int | None, metadata: dict[str, Any] | None
    ) -> StoreRecord:
        """Changes what is given (None leaves a field as it is) if the caller may; the update
        counts as activity."""
        sets, args = ["last_active_at = %s"], [int(time.time())]
        if name is not None:
            sets.append("name = %s")
            args.append(name)
        if expires_after_days is not None:
            sets.append("expires_after_days = %s")
            args.append(expires_after_days)
        if metadata is not None:
            sets.append("metadata = %s")
            args.append(Jsonb(metadata))
        writable, writable_args = _store_access(Action.WRITE)
        async with connection(self.pool) as conn:
            updated = await conn.execute(
                f"UPDATE vector_stores s SET {', '.join(sets)} WHERE s.id = %s AND {writable}", [*args, store_id, *writable_args]
            )
        if updated.rowcount == 0:
            raise _store_not_found(store_id)
        return await self.get_store(store_id)

    async def delete_store(self, store_id: str) -> None:
        """Deletes the store with its files and batches, if the caller may."""
        writable, writable_args = _store_access(Action.WRITE)
        async with connection(self.pool) as conn:
            deleted = await conn.execute(f"DELETE FROM vector_stores s WHERE s.id = %s AND {writable}", (store_id, *writable_args))
        if deleted.rowcount == 0:
            raise _store_not_found(store_id)

    async def touch_store(self, store: StoreRecord) -> None:
        """Moves last_active_at, which only stores with an expiry policy care about."""
        now = int(time.time())
        if store.expires_after_days is None or now - store.last_active_at < TOUCH_INTERVAL_S:
            return
        async with connection(self.pool) as conn:
            await conn.execute("UPDATE vector_stores SET last_active_at = %s WHERE id = %s", (now, store.id))

    # Files of stores.

    async def attach(self, store_id: str, attachments: list[Attachment], batch_id: str | None) -> list[StoreFileRecord]:
        """Attaches files (again, if attached already: a new generation restarts ingestion),
        recording the caller as who attached them; the caller's access is checked before."""
        now = int(time.time())
        owner, owner_attributes = access.owner(), access.owner_attributes_json()
        async with connection(self.pool) as conn:
            if batch_id is not None:
                await conn.execute(
                    "INSERT INTO vector_store_file_batches (id, vector_store_id, created_at, owner, owner_attributes)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (batch_id, store_id, now, owner, owner_attributes),
                )
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO vector_store_files AS f (vector_store_id, file_id, batch_id, status, attributes, chunking,"
                    " created_at, owner, owner_attributes) VALUES (%s, %s, %s, 'in_progress', %s, %s, %s, %s, %s)"
                    " ON CONFLICT (vector_store_id, file_id) DO UPDATE SET generation = f.generation + 1,"
                    " batch_id = excluded.batch_id, status = 'in_progress', attributes = excluded.attributes,"
                    " chunking = excluded.chunking, usage_bytes = 0, chunk_count = 0,"
                    " last_error_code = NULL, last_error_message = NULL,"
                    " owner = excluded.owner, owner_attributes = excluded.owner_attributes",
                    [
                        (store_id, a.file_id, batch_id, Jsonb(a.attributes), Jsonb(a.chunking), now, owner, owner_attributes)
                        for a in attachments
                    ],
                )
            rows = await (
                await conn.execute(
                    f"SELECT {_FILE_COLUMNS} FROM vector_store_files WHERE vector_store_id = %s AND file_id = ANY(%s)",
                    (store_id, [a.file_id for a in attachments]),
                )
            ).fetchall()
        by_id = {row[1]: StoreFileRecord(*row) for row in rows}
        return [by_id[a.file_id] for a in attachments]

    async def get_file(self, store_id: str, file_id: str) -> StoreFileRecord:
        async with connection(self.pool) as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_FILE_COLUMNS} FROM vector_store_files WHERE vector_store_id = %s AND file_id = %s", (store_id, file_id)
                )
            ).fetchone()
        if row is None:
            raise NotFound(f"file `{file_id}` is not in vector store `{store_id}`", param="file_id")
        return StoreFileRecord(*row)

    async def list_files(
        self, store_id: str, limit: int | None, order: str, after: str, before: str, status: str, batch_id: str | None = None
    ) -> Page[StoreFileRecord]:
        limit, order = page_limit(limit, VECTOR_STORE_FILES), sort_order(order)
        if status and status not in STATUSES:
            raise InvalidArgument(f"`filter` must be one of {', '.join(STATUSES)}, got {status!r}", param="filter")
        clauses, args = ["vector_store_id = %s"], [store_id]
        if status:
            clauses.append("status = %s")
            args.append(status)
        if batch_id is not None:
            clauses.append("batch_id = %s")
            args.append(batch_id)
        backwards = bool(before) and not after
        op, direction = _keyset(order, backwards)
        async with connection(self.pool) as conn:
            if after or before:
                cursor_id = after or before
                seq = await self._cursor(
                    conn, "SELECT seq FROM vector_store_files WHERE vector_store_id = %s AND file_id = %s",
                    (store_id, cursor_id), cursor_id, "after" if after else "before",
                )  # fmt: skip
                clauses.append(f"seq {op} %s")
                args.append(seq)
            rows = await (
                await conn.execute(
                    f"SELECT {_FILE_COLUMNS} FROM vector_store_files WHERE {' AND '.join(clauses)} ORDER BY seq {direction} LIMIT %s",
                    [*args, limit + 1],
                )
            ).fetchall()
        items = [StoreFileRecord(*r) for r in rows[:limit]]
        if backwards:
            items.reverse()
        return Page(items, has_more=len(rows) > limit)

    async def set_file_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> StoreFileRecord:
        async with connection(self.pool) as conn:
            updated = await conn.execute(
                "UPDATE vector_store_files SET attributes = %s WHERE vector_store_id = %s AND file_id = %s",
                (Jsonb(attributes), store_id, file_id),
            )
        if updated.rowcount == 0:
            raise NotFound(f"file `{file_id}` is not in vector store `{store_id}`", param="file_id")
        return await self.get_file(store_id, file_id)

    async def detach(self, store_id: str, file_id: str) -> None:
        async with connection(self.pool) as conn:
            deleted = await conn.execute(
                "DELETE FROM vector_store_files WHERE vector_store_id = %s AND file_id = %s", (store_id, file_id)
            )
        if deleted.rowcount == 0:
            raise NotFound(f"file `{file_id}` is not in vector store `{store_id}`", param="file_id")

    async def stores_with_file(self, file_id: str) -> list[tuple[str, str]]:
        """(store id, provider id) of every store the file is attached to."""
        async with connection(self.pool) as conn:
            rows = await (
                await conn.execute(
                    "SELECT s.id, s.provider_id FROM vector_store_files f JOIN vector_stores s ON s.id = f.vector_store_id"
                    " WHERE f.file_id = %s",
                    (file_id,),
                )
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    @asynccontextmanager
    async def claim(self, store_id: str, file_id: str, generation: int) -> AsyncIterator[Claim | None]:
        """Locks a file's row while an ingestion writes its chunks and its outcome.

        Yields None when the file is no longer this generation's job (detached, attached
        again, cancelled or already done). Cancelling, detaching or attaching the file
        again waits until the holder commits, so they never interleave with the write.
        """
        async with connection(self.pool) as conn:
            row = await (
                await conn.execute(
                    "SELECT status, generation FROM vector_store_files WHERE vector_store_id = %s AND file_id = %s FOR UPDATE",
                    (store_id, file_id),
                )
            ).fetchone()
            live = row is not None and row[0] == "in_progress" and row[1] == generation
            yield Claim(conn, store_id, file_id) if live else None

    # File batches.

    async def get_batch(self, store_id: str, batch_id: str) -> BatchRecord:
        async with connection(self.pool) as conn:
            row = await (
                await conn.execute(
                    f"SELECT b.id, b.vector_store_id, b.cancelled, b.created_at, c.* FROM vector_store_file_batches b"
                    f" CROSS JOIN LATERAL (SELECT {_COUNTS} FROM vector_store_files f WHERE f.batch_id = b.id) c"
                    " WHERE b.id = %s AND b.vector_store_id = %s",
                    (batch_id, store_id),
                )
            ).fetchone()
        if row is None:
            raise NotFound(f"file batch `{batch_id}` not found in vector store `{store_id}`", param="batch_id")
        return BatchRecord(*row[:4], file_counts=FileCounts(*row[4:9]))

    async def cancel_batch(self, store_id: str, batch_id: str) -> BatchRecord:
        """Marks the batch cancelled and its unfinished files too; their jobs then do nothing."""
        await self.get_batch(store_id, batch_id)
        async with connection(self.pool) as conn:
            await conn.execute("UPDATE vector_store_file_batches SET cancelled = true WHERE id = %s", (batch_id,))
            await conn.execute(
                "UPDATE vector_store_files SET status = 'cancelled' WHERE batch_id = %s AND status = 'in_progress'", (batch_id,)
            )
        return await self.get_batch(store_id, batch_id)

    async def fail(self, store_id: str, file_id: str, generation: int, code: str, message: str) -> None:
        """Records why a file's ingestion failed, unless the file moved on meanwhile."""
        async with self.claim(store_id, file_id, generation) as claim:
            if claim is not None:
                await claim.fail(code, message)


class Claim:
    """A locked in_progress file row; the outcome is written in the lock's transaction."""

    def __init__(self, conn: AsyncConnection, store_id: str, file_id: str) -> None:
        self.conn = conn
        self.key = (store_id, file_id)

    async def complete(self, chunk_count: int, usage_bytes: int) -> None:
        await self.conn.execute(
            "UPDATE vector_store_files SET status = 'completed', chunk_count = %s, usage_bytes = %s"
            " WHERE vector_store_id = %s AND file_id = %s",
            (chunk_count, usage_bytes, *self.key),
        )

    async def fail(self, code: str, message: str) -> None:
        await self.conn.execute(
            "UPDATE vector_store_files SET status = 'failed', last_error_code = %s, last_error_message = %s"
            " WHERE vector_store_id = %s AND file_id = %s",
            (code, message[:1000], *self.key),
        )
