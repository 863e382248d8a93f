"""Llama Stack agents, their sessions and their turns in Postgres, each row recording its owner
and the owner's attributes. A caller finds only the agents and sessions the access rules let
it (stackmesh_common.access), others being as absent as missing ones: a session is reached
through its agent (READ on both), starting one changes its agent (WRITE), and a turn is
read through its session (READ) and run or resumed in it (WRITE)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import ForeignKeyViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
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


def _allowed(action: Action, alias: str = "") -> tuple[str, list[Any]]:
    """The SQL condition keeping rows (of the table aliased `alias`) the caller may do `action` to."""
    prefix = f"{alias}." if alias else ""
    return access.sql_filter(action, owner_column=f"{prefix}owner", attributes_column=f"{prefix}owner_attributes")


class AgentStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create_agent(self, config: dict[str, Any]) -> StoredAgent:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO agents (agent_id, owner, owner_attributes, agent_config) VALUES (%s, %s, %s, %s)"
                " RETURNING agent_id, created_at, agent_config",
                (new_id(), access.owner(), access.owner_attributes_json(), Jsonb(config)),
            )
            return StoredAgent(*await cursor.fetchone())

    async def get_agent(self, agent_id: str, action: Action = Action.READ) -> StoredAgent:
        """The agent if the caller may do `action` to it; else the same 404 as for a missing one."""
        allowed, args = _allowed(action)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT agent_id, created_at, agent_config FROM agents WHERE agent_id = %s AND {allowed}", (agent_id, *args)
            )
            row = await cursor.fetchone()
        if row is None:
            raise _agent_not_found(agent_id)
        return StoredAgent(*row)

    async def list_agents(self, start_index: int | None, limit: int | None) -> Page[StoredAgent]:
        """A window of the agents the caller may read; `start_index` counts only those."""
        offset, limit = _window(start_index, limit)
        allowed, args = _allowed(Action.READ)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT agent_id, created_at, agent_config FROM agents WHERE {allowed} ORDER BY position OFFSET %s LIMIT %s",
                (*args, offset, None if limit is None else limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([StoredAgent(*row) for row in rows], more)

    async def delete_agent(self, agent_id: str) -> None:
        """Deletes the agent with its sessions and their turns."""
        allowed, args = _allowed(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM agents WHERE agent_id = %s AND {allowed}", (agent_id, *args))
        if cursor.rowcount == 0:
            raise _agent_not_found(agent_id)

    async def create_session(self, agent_id: str, name: str) -> StoredSession:
        """A new session of an agent the caller may change."""
        allowed, args = _allowed(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO sessions (session_id, agent_id, name, owner, owner_attributes)"
                f" SELECT %s, agent_id, %s, %s, %s FROM agents WHERE agent_id = %s AND {allowed}"
                " RETURNING session_id, agent_id, name, started_at, last_response_id",
                (new_id(), name, access.owner(), access.owner_attributes_json(), agent_id, *args),
            )
            row = await cursor.fetchone()
        if row is None:
            raise _agent_not_found(agent_id)
        return StoredSession(*row)

    async def get_session(self, agent_id: str, session_id: str, action: Action = Action.READ) -> StoredSession:
        """The session, when it is one of the agent's, the caller may read the agent and do
        `action` to the session (404 naming whichever is unknown or not the caller's)."""
        session_allowed, session_args = _allowed(action, "s")
        agent_allowed, agent_args = _allowed(Action.READ, "a")
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT s.session_id, a.agent_id, s.name, s.started_at, s.last_response_id FROM agents a"
                f" LEFT JOIN sessions s ON s.agent_id = a.agent_id AND s.session_id = %s AND {session_allowed}"
                f" WHERE a.agent_id = %s AND {agent_allowed}",
                (session_id, *session_args, agent_id, *agent_args),
            )
            row = await cursor.fetchone()
        if row is None:
            raise _agent_not_found(agent_id)
        if row[0] is None:
            raise _session_not_found(session_id, agent_id)
        return StoredSession(*row)

    async def list_sessions(self, agent_id: str, start_index: int | None, limit: int | None) -> Page[StoredSession]:
        """A window of the agent's sessions the caller may read; `start_index` counts only those."""
        offset, limit = _window(start_index, limit)
        await self.get_agent(agent_id)
        allowed, args = _allowed(Action.READ)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT session_id, agent_id, name, started_at, last_response_id FROM sessions"
                f" WHERE agent_id = %s AND {allowed} ORDER BY position OFFSET %s LIMIT %s",
                (agent_id, *args, offset, None if limit is None else limit + 1),
            )
            rows, more = _page(await cursor.fetchall(), limit)
        return Page([StoredSession(*row) for row in rows], more)

    async def delete_session(self, agent_id: str, session_id: str) -> None:
        """Deletes the session with its turns."""
        await self.get_session(agent_id, session_id, Action.WRITE)
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
                    "INSERT INTO turns (turn_id, session_id, response_id, status, turn, owner, owner_attributes) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (turn_id) DO UPDATE SET response_id = EXCLUDED.response_id, status = EXCLUDED.status, turn = EXCLUDED.turn",
                    (turn.turn_id, session_id, turn.response_id, turn.status, Jsonb(turn.turn), access.owner(), access.owner_attributes_json()),
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
