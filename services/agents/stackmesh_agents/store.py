"""Responses and conversations in Postgres, each row recording its owner and the owner's
attributes; a caller finds only the rows the access rules let it (stackmesh_common.access):
another tenant's response or conversation is as absent as a missing one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
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


def _allowed(action: Action | None, owner_column: str = "owner", attributes_column: str = "owner_attributes") -> tuple[str, list[Any]]:
    """The SQL condition keeping rows the caller may do `action` to; TRUE for internal reads (None)."""
    if action is None:
        return "TRUE", []
    return access.sql_filter(action, owner_column=owner_column, attributes_column=attributes_column)


class ResponseStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def save(self, response: dict[str, Any], input_items: list[Item], context_items: list[Item]) -> None:
        """Stores a response for the caller (a rerun of a background one keeps its owner)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO responses (id, created_at, model, owner, owner_attributes, response, input_items, context_items)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET response = EXCLUDED.response",
                (
                    response["id"], response["created_at"], response["model"], access.owner(), access.owner_attributes_json(),
                    Jsonb(response), Jsonb(input_items), Jsonb(context_items),
                ),
            )

    async def update(self, response: dict[str, Any]) -> bool:
        """Replaces a stored response's JSON; False when it is gone (deleted meanwhile). Internal:
        the run that produced the response (or a cancel already checked) writes it."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute("UPDATE responses SET response = %s WHERE id = %s", (Jsonb(response), response["id"]))
        return cursor.rowcount > 0

    async def get(self, response_id: str, param: str = "response_id", action: Action | None = Action.READ) -> StoredResponse:
        """The response if the caller may do `action` to it (None: unchecked, for the service's
        own reads); else the same 404 as for a missing one."""
        allowed, args = _allowed(action)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT response, input_items, context_items FROM responses WHERE id = %s AND {allowed}", (response_id, *args)
            )
            row = await cursor.fetchone()
        if row is None:
            raise _response_not_found(response_id, param)
        return StoredResponse(*row)

    async def delete(self, response_id: str) -> None:
        allowed, args = _allowed(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM responses WHERE id = %s AND {allowed}", (response_id, *args))
        if cursor.rowcount == 0:
            raise _response_not_found(response_id)

    async def list(self, *, after: str | None, limit: int, model: str | None, order: str) -> Page[StoredResponse]:
        """A page of the responses the caller may read."""
        allowed, args = _allowed(Action.READ)
        conditions = [allowed]
        if model:
            conditions.append("model = %s")
            args.append(model)
        if after:
            anchor = await self._anchor(after)
            conditions.append("(created_at, id) > (%s, %s)" if order == "asc" else "(created_at, id) < (%s, %s)")
            args += anchor
        direction = "ASC" if order == "asc" else "DESC"
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT response, input_items, context_items FROM responses WHERE {' AND '.join(conditions)}"
                f" ORDER BY created_at {direction}, id {direction} LIMIT %s",
                (*args, limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([StoredResponse(*row) for row in rows], more)

    async def _anchor(self, after: str) -> tuple[int, str]:
        # A response the caller may not read names no response, as an unknown id.
        allowed, args = _allowed(Action.READ)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"SELECT created_at, id FROM responses WHERE id = %s AND {allowed}", (after, *args))
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
    """Conversations and their items; an item is reached through its conversation, so reading
    one needs READ on the conversation and adding or deleting one WRITE."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(self, conversation_id: str, metadata: dict[str, str], items: list[Item]) -> StoredConversation:
        created = int(time.time())
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO conversations (id, created_at, owner, owner_attributes, metadata) VALUES (%s, %s, %s, %s, %s)",
                (conversation_id, created, access.owner(), access.owner_attributes_json(), Jsonb(metadata)),
            )
            await self._insert(conn, conversation_id, items, created)
        return StoredConversation(conversation_id, created, metadata)

    async def get(self, conversation_id: str, param: str = "conversation_id", action: Action = Action.READ) -> StoredConversation:
        """The conversation if the caller may do `action` to it; else the same 404 as for a missing one."""
        allowed, args = _allowed(action)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT id, created_at, metadata FROM conversations WHERE id = %s AND {allowed}", (conversation_id, *args)
            )
            row = await cursor.fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id, param)
        return StoredConversation(*row)

    async def update(self, conversation_id: str, metadata: dict[str, str]) -> StoredConversation:
        allowed, args = _allowed(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"UPDATE conversations SET metadata = %s WHERE id = %s AND {allowed} RETURNING id, created_at, metadata",
                (Jsonb(metadata), conversation_id, *args),
            )
            row = await cursor.fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id)
        return StoredConversation(*row)

    async def delete(self, conversation_id: str) -> None:
        allowed, args = _allowed(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM conversations WHERE id = %s AND {allowed}", (conversation_id, *args))
        if cursor.rowcount == 0:
            raise _conversation_not_found(conversation_id)

    async def append(self, conversation_id: str, items: list[Item], param: str = "conversation_id") -> None:
        """Adds items to a conversation the caller may change."""
        await self.get(conversation_id, param, Action.WRITE)
        try:
            async with self.pool.connection() as conn:
                await self._insert(conn, conversation_id, items, int(time.time()))
        except psycopg.errors.ForeignKeyViolation:
            raise _conversation_not_found(conversation_id, param) from None

    @staticmethod
    async def _insert(conn: Any, conversation_id: str, items: list[Item], created: int) -> None:
        if not items:
            return
        owner, attributes = access.owner(), access.owner_attributes_json()
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO conversation_items (conversation_id, id, created_at, owner, owner_attributes, item) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (conversation_id, id) DO UPDATE SET item = EXCLUDED.item",
                [(conversation_id, item["id"], created, owner, attributes, Jsonb(item)) for item in items],
            )

    async def items(self, conversation_id: str) -> list[Item]:
        """Every item, oldest first: the context a response in this conversation starts from.
        Internal: the caller's access to the conversation is checked first."""
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
            await self._item(conversation_id, after, param="after")
        direction = "ASC" if order == "asc" else "DESC"
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT item FROM conversation_items WHERE {' AND '.join(conditions)} ORDER BY position {direction} LIMIT %s",
                (*args, limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([row[0] for row in rows], more)

    async def item(self, conversation_id: str, item_id: str, param: str = "item_id") -> Item:
        await self.get(conversation_id)
        return await self._item(conversation_id, item_id, param)

    async def _item(self, conversation_id: str, item_id: str, param: str) -> Item:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = %s AND id = %s", (conversation_id, item_id)
            )
            row = await cursor.fetchone()
        if row is None:
            raise _item_not_found(conversation_id, item_id, param)
        return row[0]

    async def delete_item(self, conversation_id: str, item_id: str) -> None:
        await self.get(conversation_id, action=Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM conversation_items WHERE conversation_id = %s AND id = %s", (conversation_id, item_id))
        if cursor.rowcount == 0:
            raise _item_not_found(conversation_id, item_id)
