"""Llama Stack agents, their sessions and their turns in Postgres, each row recording its owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import ForeignKeyViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common.call_context import principal
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.paging import Page
from stackmesh_agents.agent_requests import new_id

# A turn's states: `in_progress` only while a resume runs (a new turn is stored when it ends).
COMPLETED = "completed"
AWAITING_INPUT = "awaiting_input"
IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class StoredAgent:
    agent_id: str
    created_at: datetime
    config: dict[str, Any]  # the AgentConfig JSON as sent


@dataclass(frozen=True)
class StoredSession:
    session_id: str
    agent_id: str
    name: str
    started_at: datetime
    last_response_id: str | None  # what the session's next turn continues


@dataclass(frozen=True)
class StoredTurn:
    turn_id: str
    response_id: str
    status: str
    turn: dict[str, Any]  # the Turn JSON with its steps


def _agent_not_found(agent_id: str) -> NotFound:
    return NotFound(f"Agent with id '{agent_id}' not found", param="agent_id", reason="agent_not_found")


def _session_not_found(session_id: str, agent_id: str) -> NotFound:
    return NotFound(f"Session with id '{session_id}' not found for agent '{agent_id}'", param="session_id", reason="session_not_found")


def _turn_not_found(turn_id: str, session_id: str) -> NotFound:
    return NotFound(f"Turn with id '{turn_id}' not found in session '{session_id}'", param="turn_id", reason="turn_not_found")


def _window(start_index: int | None, limit: int | None) -> tuple[int, int | None]:
    """Llama Stack's offset paging: from start_index (0), limit rows (all when unset)."""
    if start_index is not None and start_index < 0:
        raise InvalidArgument(f"`start_index` must be at least 0, got {start_index}", param="start_index")
    if limit is not None and limit < 1:
        raise InvalidArgument(f"`limit` must be at least 1, got {limit}", param="limit")
    return start_index or 0, limit


def _page(rows: list[Any], limit: int | None) -> tuple[list[Any], bool]:
    return (rows, False) if limit is None else (rows[:limit], len(rows) > limit)


class AgentStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create_agent(self, config: dict[str, Any]) -> StoredAgent:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO agents (agent_id, owner, agent_config) VALUES (%s, %s, %s) RETURNING agent_id, created_at, agent_config",
                (new_id(), principal.get(), Jsonb(config)),
            )
            return StoredAgent(*await cursor.fetchone())

    async def get_agent(self, agent_id: str) -> StoredAgent:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT agent_id, created_at, agent_config FROM agents WHERE agent_id = %s", (agent_id,))
            row = await cursor.fetchone()
        if row is None:
            raise _agent_not_found(agent_id)
        return StoredAgent(*row)

    async def list_agents(self, start_index: int | None, limit: int | None) -> Page[StoredAgent]:
        offset, limit = _window(start_index, limit)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT agent_id, created_at, agent_config FROM agents ORDER BY position OFFSET %s LIMIT %s",
                (offset, None if limit is None else limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([StoredAgent(*row) for row in rows], more)

    async def delete_agent(self, agent_id: str) -> None:
        """Deletes the agent with its sessions and their turns."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM agents WHERE agent_id = %s", (agent_id,))
        if cursor.rowcount == 0:
            raise _agent_not_found(agent_id)

    async def create_session(self, agent_id: str, name: str) -> StoredSession:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO sessions (session_id, agent_id, name, owner) SELECT %s, agent_id, %s, %s FROM agents WHERE agent_id = %s"
                " RETURNING session_id, agent_id, name, started_at, last_response_id",
                (new_id(), name, principal.get(), agent_id),
            )
            row = await cursor.fetchone()
        if row is None:
            raise _agent_not_found(agent_id)
        return StoredSession(*row)

    async def get_session(self, agent_id: str, session_id: str) -> StoredSession:
        """The session, when it is one of the agent's (404 naming whichever is unknown)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT s.session_id, a.agent_id, s.name, s.started_at, s.last_response_id"
                " FROM agents a LEFT JOIN sessions s ON s.agent_id = a.agent_id AND s.session_id = %s WHERE a.agent_id = %s",
                (session_id, agent_id),
            )
            row = await cursor.fetchone()
        if row is None:
            raise _agent_not_found(agent_id)
        if row[0] is None:
            raise _session_not_found(session_id, agent_id)
        return StoredSession(*row)

    async def list_sessions(self, agent_id: str, start_index: int | None, limit: int | None) -> Page[StoredSession]:
        offset, limit = _window(start_index, limit)
        await self.get_agent(agent_id)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT session_id, agent_id, name, started_at, last_response_id FROM sessions WHERE agent_id = %s"
                " ORDER BY position OFFSET %s LIMIT %s",
                (agent_id, offset, None if limit is None else limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([StoredSession(*row) for row in rows], more)

    async def delete_session(self, agent_id: str, session_id: str) -> None:
        """Deletes the session with its turns."""
        await self.get_session(agent_id, session_id)
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM sessions WHERE session_id = %s AND agent_id = %s", (session_id, agent_id))

    async def turns(self, session_id: str, turn_ids: list[str] | None = None) -> list[StoredTurn]:
        """The session's turns, oldest first; only those of `turn_ids` when given."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT turn_id, response_id, status, turn FROM turns WHERE session_id = %s AND (%s::text[] IS NULL OR turn_id = ANY(%s))"
                " ORDER BY position",
                (session_id, turn_ids, turn_ids),
            )
            return [StoredTurn(*row) for row in await cursor.fetchall()]

    async def get_turn(self, session_id: str, turn_id: str) -> StoredTurn:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT turn_id, response_id, status, turn FROM turns WHERE session_id = %s AND turn_id = %s", (session_id, turn_id)
            )
            row = await cursor.fetchone()
        if row is None:
            raise _turn_not_found(turn_id, session_id)
        return StoredTurn(*row)

    async def save_turn(self, session_id: str, turn: StoredTurn) -> None:
        """Stores a turn that ended or awaits input, and makes its response the one the
        session's next turn continues."""
        try:
            async with self.pool.connection() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO turns (turn_id, session_id, response_id, status, turn) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (turn_id) DO UPDATE SET response_id = EXCLUDED.response_id, status = EXCLUDED.status, turn = EXCLUDED.turn",
                    (turn.turn_id, session_id, turn.response_id, turn.status, Jsonb(turn.turn)),
                )
                await conn.execute("UPDATE sessions SET last_response_id = %s WHERE session_id = %s", (turn.response_id, session_id))
        except ForeignKeyViolation:
            # The session (or its agent) was deleted while the turn ran.
            raise NotFound(f"Session with id '{session_id}' was deleted during the turn", param="session_id", reason="session_not_found") from None

    async def claim(self, session_id: str, turn_id: str) -> bool:
        """Marks a turn awaiting input as being resumed; False when it no longer awaits input."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE turns SET status = %s WHERE session_id = %s AND turn_id = %s AND status = %s",
                (IN_PROGRESS, session_id, turn_id, AWAITING_INPUT),
            )
        return cursor.rowcount == 1

    async def release(self, session_id: str, turn_id: str) -> None:
        """A resume that failed leaves its turn awaiting input, to be resumed again."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE turns SET status = %s WHERE session_id = %s AND turn_id = %s AND status = %s",
                (AWAITING_INPUT, session_id, turn_id, IN_PROGRESS),
            )
