"""Stored chat completions: written by a background task, read with cursor pagination; each is
its caller's, and reads and changes follow the access rules (stackmesh_common.access).

A completion the caller was given is stored even when Postgres restarts meanwhile: the writer
keeps its batch and retries it until Postgres is back (inserts are idempotent by id)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from psycopg import OperationalError
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.paging import CHAT_COMPLETIONS, page_limit, sort_order

log = logging.getLogger("stackmesh.inference.store")

# The writer waits this long to gather a batch: one insert per batch keeps the store's CPU
# cost off the requests that follow, at the price of this much delay before a completion is listed.
LINGER_S = 0.2
MAX_BATCH = 100
# Retries of a batch Postgres could not take back off up to this many seconds apart.
MAX_RETRY_DELAY_S = 2.0
# On shutdown, queued completions get this long for Postgres to take them.
CLOSE_TIMEOUT_S = 10.0


def _not_found(completion_id: str) -> NotFound:
    # The same answer for a completion the caller may not see as for one that does not exist.
    return NotFound(f"chat completion `{completion_id}` not found", param="completion_id")


class CompletionStore:
    """Keeps completions off the request path: `save` enqueues, a writer batches inserts."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue(maxsize=10_000)
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())

    def save(self, completion: dict[str, Any], input_messages: list[Any], metadata: dict[str, str]) -> None:
        """Queues the completion as the caller's (the owner is taken here, in the call)."""
        try:
            self._queue.put_nowait(
                (completion["id"], completion["model"], completion["created"], completion, input_messages, metadata,
                 access.owner(), access.owner_attributes_json())
            )  # fmt: skip
        except asyncio.QueueFull:
            log.warning("completion store is backlogged; dropping %s", completion["id"])

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            batch = [item]
            deadline = asyncio.get_running_loop().time() + LINGER_S
            while len(batch) < MAX_BATCH:
                try:
                    extra = await asyncio.wait_for(self._queue.get(), deadline - asyncio.get_running_loop().time())
                except TimeoutError:
                    break
                if extra is None:
                    await self._insert(batch)
                    return
                batch.append(extra)
            await self._insert(batch)

    async def _insert(self, batch: list[tuple[Any, ...]]) -> None:
        delay = 0.1
        while True:
            try:
                await self._insert_once(batch)
                return
            except (OperationalError, PoolTimeout) as exc:
                # Postgres is away (restarting, failing over): the callers already have these
                # completions, so they wait here, not in the callers' requests.
                if self._closing:
                    log.error("could not store %d chat completions before shutting down: %s", len(batch), exc)
                    return
                log.warning("storing %d chat completions failed, retrying in %.1f s: %s", len(batch), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
            except Exception:
                log.exception("could not store %d chat completions", len(batch))
                return

    async def _insert_once(self, batch: list[tuple[Any, ...]]) -> None:
        async with self.pool.connection() as conn:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO chat_completions (id, model, created, completion, input_messages, metadata, owner,"
                    " owner_attributes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    [
                        (i, m, c, Jsonb(comp), Jsonb(msgs), Jsonb(meta), owner, owner_attributes)
                        for i, m, c, comp, msgs, meta, owner, owner_attributes in batch
                    ],
                )

    async def close(self) -> None:
        """Flushes what is queued (retrying for up to CLOSE_TIMEOUT_S), then stops the writer."""
        if self._writer:
            await self._queue.put(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_TIMEOUT_S)
            except TimeoutError:
                self._closing = True  # the retrying batch gives up; the rest is written once
                await self._writer

    async def get(self, completion_id: str) -> tuple[dict[str, Any], list[Any], dict[str, str]]:
        """The completion if the caller may read it, else as absent as a missing one."""
        condition, args = access.sql_filter(Action.READ)
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"SELECT completion, input_messages, metadata FROM chat_completions WHERE id = %s AND {condition}",
                    (completion_id, *args),
                )
            ).fetchone()
        if row is None:
            raise _not_found(completion_id)
        return row[0], row[1], row[2]

    async def update_metadata(self, completion_id: str, metadata: dict[str, str]) -> tuple[dict[str, Any], list[Any], dict[str, str]]:
        condition, args = access.sql_filter(Action.WRITE)
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"UPDATE chat_completions SET metadata = %s WHERE id = %s AND {condition}"
                    " RETURNING completion, input_messages, metadata",
                    (Jsonb(metadata), completion_id, *args),
                )
            ).fetchone()
        if row is None:
            raise _not_found(completion_id)
        return row[0], row[1], row[2]

    async def delete(self, completion_id: str) -> None:
        condition, args = access.sql_filter(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM chat_completions WHERE id = %s AND {condition}", (completion_id, *args))
        if cursor.rowcount == 0:
            raise _not_found(completion_id)

    async def expire(self, retention_days: float, every_s: float) -> None:
        """Deletes completions older than the retention, every `every_s`, until cancelled."""
        while True:
            cutoff = int(time.time() - retention_days * 86400)
            try:
                async with self.pool.connection() as conn:
                    cursor = await conn.execute("DELETE FROM chat_completions WHERE created < %s", (cutoff,))
                if cursor.rowcount:
                    log.info("deleted %d stored chat completions past their retention", cursor.rowcount)
            except Exception as exc:
                log.warning("expiring stored chat completions failed, retrying later: %s", exc)
            await asyncio.sleep(every_s)

    async def list(self, after: str, limit: int | None, model: str, order: str) -> tuple[list[tuple[dict, list, dict]], bool]:
        """A page of the completions the caller may read; a cursor it may not read is unknown."""
        limit, order = page_limit(limit, CHAT_COMPLETIONS), sort_order(order, "desc")
        readable, readable_args = access.sql_filter(Action.READ)
        clauses, args = [readable], [*readable_args]
        if model:
            clauses.append("model = %s")
            args.append(model)
        if after:
            async with self.pool.connection() as conn:
                cursor = await (
                    await conn.execute(f"SELECT created, id FROM chat_completions WHERE id = %s AND {readable}", (after, *readable_args))
                ).fetchone()
            if cursor is None:
                raise InvalidArgument(f"`after` names an unknown chat completion: {after}", param="after")
            clauses.append("(created, id) " + ("<" if order == "desc" else ">") + " (%s, %s)")
            args.extend(cursor)
        where = f"WHERE {' AND '.join(clauses)}"
        direction = "DESC" if order == "desc" else "ASC"
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT completion, input_messages, metadata FROM chat_completions {where}"
                    f" ORDER BY created {direction}, id {direction} LIMIT %s",
                    [*args, limit + 1],
                )
            ).fetchall()
        return [tuple(r) for r in rows[:limit]], len(rows) > limit
