"""Llama Stack prompts: versioned templates in Postgres, each row recording its owner and the
owner's attributes, and their rendering with `{{ name }}` variables (what a response's `prompt`
refers to). A prompt the access rules keep from the caller is as absent as a missing one;
reading its versions needs READ on it, adding one or choosing the default WRITE."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Mapping

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, NotFound

# Llama Stack's placeholder syntax, as its Prompt model validates it: spaces inside optional.
PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")

# One version of a prompt, flagged with whether it is the prompt's default.
_SELECT = (
    "SELECT v.prompt_id, v.version, v.prompt, v.variables, v.version = p.default_version"
    " FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id"
)


@dataclass(frozen=True)
class StoredPrompt:
    prompt_id: str
    version: int
    prompt: str
    variables: list[str]
    is_default: bool


def check_template(template: str, variables: list[str]) -> None:
    """As Llama Stack: every placeholder must be declared; a declared variable may go unused."""
    if not template:
        raise InvalidArgument("`prompt` is required", param="prompt")
    if undeclared := sorted(set(PLACEHOLDER.findall(template)) - set(variables)):
        raise InvalidArgument(f"The prompt uses undeclared variables {undeclared}: list them in `variables`", param="variables")


def render(template: str, variables: Mapping[str, str]) -> str:
    """The template with each `{{ name }}` replaced by its value; every placeholder needs a
    value and every value a placeholder."""
    used = set(PLACEHOLDER.findall(template))
    if missing := sorted(used - variables.keys()):
        raise InvalidArgument(f"`prompt.variables` lacks {missing}, which the prompt uses", param="prompt.variables")
    if unknown := sorted(variables.keys() - used):
        raise InvalidArgument(f"`prompt.variables` has {unknown}, which the prompt does not use", param="prompt.variables")
    # A function rather than a replacement string, so backslashes in values stay literal.
    return PLACEHOLDER.sub(lambda match: variables[match.group(1)], template)


async def resolve(store: PromptStore, prompt_id: str, version: str | None, variables: Mapping[str, Any]) -> str:
    """The text of a response's `prompt: {id, version, variables}`: the stored version (the
    default when unset) rendered with the variables, each a string or an input_text part."""
    if version is not None and not version.isdecimal():
        raise InvalidArgument(f"`prompt.version` must be a version number, got {version!r}", param="prompt.version")
    stored = await store.get(
        prompt_id, None if version is None else int(version), id_param="prompt.id", version_param="prompt.version"
    )
    return render(stored.prompt, {name: _text(name, value) for name, value in variables.items()})


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("type") == "input_text" and isinstance(value.get("text"), str):
        return value["text"]
    # Images and files cannot be spliced into the template's text.
    param = f"prompt.variables.{name}"
    raise InvalidArgument(f"`{param}` must be a string or an input_text part", param=param)


def _allowed(action: Action, prefix: str = "p.") -> tuple[str, list[Any]]:
    """The SQL condition keeping prompts the caller may do `action` to (`prefix`: the prompts
    table's alias, as in _SELECT); a version goes with its prompt."""
    return access.sql_filter(action, owner_column=f"{prefix}owner", attributes_column=f"{prefix}owner_attributes")


class PromptStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(self, prompt: str, variables: list[str]) -> StoredPrompt:
        prompt_id, created = f"pmpt_{secrets.token_hex(24)}", int(time.time())
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO prompts (id, created_at, owner, owner_attributes, default_version) VALUES (%s, %s, %s, %s, 1)",
                (prompt_id, created, access.owner(), access.owner_attributes_json()),
            )
            await self._insert(conn, prompt_id, 1, prompt, variables, created)
        return StoredPrompt(prompt_id, 1, prompt, variables, is_default=True)

    async def get(
        self, prompt_id: str, version: int | None = None, *, id_param: str = "prompt_id", version_param: str = "version"
    ) -> StoredPrompt:
        """One version of a prompt the caller may read, its default one when `version` is None."""
        allowed, args = _allowed(Action.READ)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"{_SELECT} WHERE v.prompt_id = %s AND v.version = COALESCE(%s::integer, p.default_version) AND {allowed}",
                (prompt_id, version, *args),
            )
            row = await cursor.fetchone()
        if row is None:
            raise await self._not_found(prompt_id, version, id_param, version_param)
        return StoredPrompt(*row)

    async def defaults(self) -> list[StoredPrompt]:
        """The default version of every prompt the caller may read, newest prompt first."""
        allowed, args = _allowed(Action.READ)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"{_SELECT} WHERE v.version = p.default_version AND {allowed} ORDER BY p.position DESC", args)
            return [StoredPrompt(*row) for row in await cursor.fetchall()]

    async def versions(self, prompt_id: str) -> list[StoredPrompt]:
        """Every version of a prompt the caller may read, oldest first."""
        allowed, args = _allowed(Action.READ)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"{_SELECT} WHERE v.prompt_id = %s AND {allowed} ORDER BY v.version", (prompt_id, *args))
            rows = await cursor.fetchall()
        if not rows:
            raise await self._not_found(prompt_id)
        return [StoredPrompt(*row) for row in rows]

    async def update(
        self, prompt_id: str, prompt: str, variables: list[str], *, version: int, set_as_default: bool
    ) -> StoredPrompt:
        """Adds the version after `version`, which must be the latest (optimistic concurrency)."""
        async with self.pool.connection() as conn, conn.transaction():
            # Locking the prompt's row serialises its updates: of two callers that read the
            # same latest version, the second is refused rather than both adding the next. The
            # latest version is read by a second statement, whose snapshot is taken after the
            # lock is held (a subquery of the locking statement would see the old one).
            allowed, args = _allowed(Action.WRITE, prefix="")
            cursor = await conn.execute(f"SELECT id FROM prompts WHERE id = %s AND {allowed} FOR UPDATE", (prompt_id, *args))
            if await cursor.fetchone() is None:
                raise await self._not_found(prompt_id)
            cursor = await conn.execute("SELECT max(version) FROM prompt_versions WHERE prompt_id = %s", (prompt_id,))
            (latest,) = await cursor.fetchone()
            if version != latest:
                raise InvalidArgument(
                    f"Version {version} is not the latest version of prompt '{prompt_id}': update version {latest}",
                    param="version",
                    reason="prompt_version_conflict",
                )
            await self._insert(conn, prompt_id, latest + 1, prompt, variables, int(time.time()))
            if set_as_default:
                await conn.execute("UPDATE prompts SET default_version = %s WHERE id = %s", (latest + 1, prompt_id))
        return StoredPrompt(prompt_id, latest + 1, prompt, variables, set_as_default)

    async def set_default(self, prompt_id: str, version: int) -> StoredPrompt:
        allowed, args = _allowed(Action.WRITE)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE prompts p SET default_version = v.version FROM prompt_versions v"
                f" WHERE p.id = %s AND v.prompt_id = p.id AND v.version = %s AND {allowed}"
                " RETURNING v.prompt_id, v.version, v.prompt, v.variables",
                (prompt_id, version, *args),
            )
            row = await cursor.fetchone()
        if row is None:
            raise await self._not_found(prompt_id, version, action=Action.WRITE)
        return StoredPrompt(*row, is_default=True)

    async def delete(self, prompt_id: str) -> None:
        allowed, args = _allowed(Action.WRITE, prefix="")
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM prompts WHERE id = %s AND {allowed}", (prompt_id, *args))
        if cursor.rowcount == 0:
            raise await self._not_found(prompt_id)

    async def _not_found(
        self,
        prompt_id: str,
        version: int | None = None,
        id_param: str = "prompt_id",
        version_param: str = "version",
        action: Action = Action.READ,
    ) -> NotFound:
        """The error for a missing prompt (or one the caller may not do `action` to), or for a
        missing version of one it may."""
        if version is not None:
            allowed, args = _allowed(action, prefix="")
            async with self.pool.connection() as conn:
                cursor = await conn.execute(f"SELECT 1 FROM prompts WHERE id = %s AND {allowed}", (prompt_id, *args))
                if await cursor.fetchone() is not None:
                    return NotFound(f"Prompt '{prompt_id}' has no version {version}", param=version_param, reason="prompt_version_not_found")
        return NotFound(f"Prompt with id '{prompt_id}' not found", param=id_param, reason="prompt_not_found")

    @staticmethod
    async def _insert(conn: AsyncConnection, prompt_id: str, version: int, prompt: str, variables: list[str], created: int) -> None:
        await conn.execute(
            "INSERT INTO prompt_versions (prompt_id, version, created_at, owner, owner_attributes, prompt, variables)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (prompt_id, version, created, access.owner(), access.owner_attributes_json(), prompt, variables),
        )
