"""Responses and conversations in Postgres, each row recording its owner."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common.call_context import principal
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.paging import Page
from stackmesh_agents.items import Item


@dataclass(frozen=True)
class StoredResponse:
    response: dict[str, Any]
    input_items: list[Item]
    context_items: list[Item]

    @property
    def continuation(self) -> list[Item]:
        """What a response continuing this one starts from: its context, input and output."""
        return [*self.context_items, *self.input_items, *self.response.get("output", [])]


def _response_not_found(response_id: str, param: str = "response_id") -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found", param=param, reason="response_not_found")


def _conversation_not_found(conversation_id: str, param: str = "conversation_id") -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found", param=param, reason="conversation_not_found")


def _item_not_found(conversation_id: str, item_id: str, param: str = "item_id") -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found in conversation '{conversation_id}'", param=param, reason="item_not_found")


def _page(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    return rows[:limit], len(rows) > limit


class ResponseStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def save(self, response: dict[str, Any], input_items: list[Item], context_items: list[Item]) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO responses (id, created_at, model, owner, response, input_items, context_items)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET response = EXCLUDED.response",
                (response["id"], response["created_at"], response["model"], principal.get(), Jsonb(response), Jsonb(input_items), Jsonb(context_items)),
            )

    async def update(self, response: dict[str, Any]) -> bool:
        """Replaces a stored response's JSON; False when it is gone (deleted meanwhile)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute("UPDATE responses SET response = %s WHERE id = %s", (Jsonb(response), response["id"]))
        return cursor.rowcount > 0

    async def get(self, response_id: str, param: str = "response_id") -> StoredResponse:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT response, input_items, context_items FROM responses WHERE id = %s", (response_id,))
            row = await cursor.fetchone()
        if row is None:
            raise _response_not_found(response_id, param)
        return StoredResponse(*row)

    async def delete(self, response_id: str) -> None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM responses WHERE id = %s", (response_id,))
        if cursor.rowcount == 0:
            raise _response_not_found(response_id)

    async def list(self, *, after: str | None, limit: int, model: str | None, order: str) -> Page[StoredResponse]:
        conditions, args = [], []
        if model:
            conditions.append("model = %s")
            args.append(model)
        if after:
            anchor = await self._anchor(after)
            conditions.append("(created_at, id) > (%s, %s)" if order == "asc" else "(created_at, id) < (%s, %s)")
            args += anchor
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        direction = "ASC" if order == "asc" else "DESC"
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT response, input_items, context_items FROM responses {where}"
                f" ORDER BY created_at {direction}, id {direction} LIMIT %s",
                (*args, limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([StoredResponse(*row) for row in rows], more)

    async def _anchor(self, after: str) -> tuple[int, str]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT created_at, id FROM responses WHERE id = %s", (after,))
            row = await cursor.fetchone()
        if row is None:
            raise InvalidArgument(f"`after` names no response: {after!r}", param="after")
        return row


@dataclass(frozen=True)
class StoredConversation:
    id: str
    created_at: int
    metadata: dict[str, str]


class ConversationStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(self, conversation_id: str, metadata: dict[str, str], items: list[Item]) -> StoredConversation:
        created = int(time.time())
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO conversations (id, created_at, owner, metadata) VALUES (%s, %s, %s, %s)",
                (conversation_id, created, principal.get(), Jsonb(metadata)),
            )
            await self._insert(conn, conversation_id, items, created)
        return StoredConversation(conversation_id, created, metadata)

    async def get(self, conversation_id: str, param: str = "conversation_id") -> StoredConversation:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT id, created_at, metadata FROM conversations WHERE id = %s", (conversation_id,))
            row = await cursor.fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id, param)
        return StoredConversation(*row)

    async def update(self, conversation_id: str, metadata: dict[str, str]) -> StoredConversation:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE conversations SET metadata = %s WHERE id = %s RETURNING id, created_at, metadata",
                (Jsonb(metadata), conversation_id),
            )
            row = await cursor.fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id)
        return StoredConversation(*row)

    async def delete(self, conversation_id: str) -> None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM conversations WHERE id = %s", (conversation_id,))
        if cursor.rowcount == 0:
            raise _conversation_not_found(conversation_id)

    async def append(self, conversation_id: str, items: list[Item]) -> None:
        try:
            async with self.pool.connection() as conn:
                await self._insert(conn, conversation_id, items, int(time.time()))
        except psycopg.errors.ForeignKeyViolation:
            raise _conversation_not_found(conversation_id) from None

    @staticmethod
    async def _insert(conn: Any, conversation_id: str, items: list[Item], created: int) -> None:
        if not items:
            return
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO conversation_items (conversation_id, id, created_at, item) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (conversation_id, id) DO UPDATE SET item = EXCLUDED.item",
                [(conversation_id, item["id"], created, Jsonb(item)) for item in items],
            )

    async def items(self, conversation_id: str) -> list[Item]:
        """Every item, oldest first: the context a response in this conversation starts from."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = %s ORDER BY position", (conversation_id,)
            )
            return [row[0] for row in await cursor.fetchall()]

    async def page(self, conversation_id: str, *, after: str | None, limit: int, order: str) -> Page[Item]:
        await self.get(conversation_id)
        conditions, args = ["conversation_id = %s"], [conversation_id]
        if after:
            comparison = ">" if order == "asc" else "<"
            conditions.append(f"position {comparison} (SELECT position FROM conversation_items WHERE conversation_id = %s AND id = %s)")
            args += [conversation_id, after]
            await self.item(conversation_id, after, param="after")
        direction = "ASC" if order == "asc" else "DESC"
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT item FROM conversation_items WHERE {' AND '.join(conditions)} ORDER BY position {direction} LIMIT %s",
                (*args, limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([row[0] for row in rows], more)

    async def item(self, conversation_id: str, item_id: str, param: str = "item_id") -> Item:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = %s AND id = %s", (conversation_id, item_id)
            )
            row = await cursor.fetchone()
        if row is None:
            await self.get(conversation_id)
            raise _item_not_found(conversation_id, item_id, param)
        return row[0]

    async def delete_item(self, conversation_id: str, item_id: str) -> None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM conversation_items WHERE conversation_id = %s AND id = %s", (conversation_id, item_id))
        if cursor.rowcount == 0:
            await self.get(conversation_id)
            raise _item_not_found(conversation_id, item_id)
