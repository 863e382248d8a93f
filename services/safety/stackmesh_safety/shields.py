"""The shield registry: persisted in Postgres, each shield routed to the provider that runs it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from stackmesh_common.registry import LoadedProvider
from stackmesh_safety.providers.base import SafetyProvider, Shield

log = logging.getLogger("stackmesh.safety.shields")

# How stale a replica's view of shields registered elsewhere may get before a list re-reads it.
REFRESH_INTERVAL_S = 2.0
# OpenAI moderation model names: a client that names one gets the default moderation shields.
OPENAI_MODERATION_PREFIXES = ("omni-moderation", "text-moderation")


class ShieldResource(BaseModel):
    """A shield the distribution registers at start-up (`resources.shields`)."""

    model_config = ConfigDict(extra="forbid")

    shield_id: str
    provider_id: str
    provider_shield_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # Run by /v1/moderations when a request names no shield (or an OpenAI moderation model).
    moderation: bool = False


_COLUMNS = "identifier, provider_id, provider_resource_id, params"


def _row_to_shield(row: tuple) -> Shield:
    return Shield(row[0], row[1], row[2], row[3])


class ShieldRegistry:
    def __init__(self, pool: AsyncConnectionPool, providers: dict[str, LoadedProvider]) -> None:
        self.pool = pool
        self.providers = providers
        self._shields: dict[str, Shield] = {}
        self._moderation: list[str] = []
        self._lock = asyncio.Lock()
        self._refreshed_at = 0.0

    def provider(self, shield: Shield) -> SafetyProvider:
        return self.providers[shield.provider_id].impl

    async def _rows(self) -> list[Shield]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM shields ORDER BY created_at, identifier")).fetchall()
        return [_row_to_shield(row) for row in rows]

    async def start(self, resources: list[ShieldResource]) -> None:
        """Registers the distribution's shields (the file is the source of truth for the shields
        it names), then loads every persisted one. A shield its provider cannot run now (its
        guard model is not registered yet, say) is still listed: running it answers why."""
        for resource in resources:
            shield = Shield(resource.shield_id, resource.provider_id, resource.provider_shield_id or resource.shield_id, resource.params)
            await self._persist(shield, replace=True)
            if resource.moderation:
                self._moderation.append(shield.identifier)
        await self._refresh()
        for shield in self._shields.values():
            try:
                await self.provider(shield).validate_shield(shield)
            except Exception as exc:
                log.warning("shield %s cannot run yet: %s", shield.identifier, exc)

    def _check_provider(self, provider_id: str) -> None:
        if provider_id not in self.providers:
            raise InvalidArgument(
                f"provider {provider_id!r} does not exist; safety providers: {', '.join(sorted(self.providers))}", param="provider_id"
            )

    async def _persist(self, shield: Shield, replace: bool) -> None:
        conflict = (
            "ON CONFLICT (identifier) DO UPDATE SET provider_id = EXCLUDED.provider_id,"
            " provider_resource_id = EXCLUDED.provider_resource_id, params = EXCLUDED.params"
            if replace
            else ""
        )
        async with self.pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO shields ({_COLUMNS}) VALUES (%s, %s, %s, %s) {conflict}",
                (shield.identifier, shield.provider_id, shield.provider_resource_id, Jsonb(shield.params)),
            )

    async def _refresh(self) -> None:
        """Picks up shields registered or removed through another replica."""
        current = {shield.identifier: shield for shield in await self._rows() if shield.provider_id in self.providers}
        self._refreshed_at = time.monotonic()
        async with self._lock:
            self._shields = current

    async def list(self) -> list[Shield]:
        if time.monotonic() - self._refreshed_at > REFRESH_INTERVAL_S:
            await self._refresh()
        return list(self._shields.values())

    async def resolve(self, identifier: str, param: str = "shield_id") -> Shield:
        if not identifier:
            raise InvalidArgument(f"`{param}` is required", param=param)
        if identifier not in self._shields:
            await self._refresh()
        try:
            return self._shields[identifier]
        except KeyError:
            raise NotFound(
                f"The shield `{identifier}` does not exist. Available shields: {', '.join(self._shields) or 'none'}",
                param=param,
                reason="shield_not_found",
            ) from None

    async def for_moderation(self, model: str) -> list[Shield]:
        """The shields a moderation request runs: the one it names (by shield id, or by the
        model a shield runs on), or the distribution's moderation shields."""
        if not model or model.startswith(OPENAI_MODERATION_PREFIXES):
            shields = [self._shields[s] for s in self._moderation if s in self._shields]
            if not shields:
                raise FailedPrecondition(
                    "no moderation shield is configured: name a shield in `model` "
                    f"(available: {', '.join(self._shields) or 'none'})",
                    param="model",
                )
            return shields
        if model not in self._shields:
            await self._refresh()
        if model in self._shields:
            return [self._shields[model]]
        by_resource = [s for s in self._shields.values() if s.provider_resource_id == model]
        if by_resource:
            return by_resource[:1]
        raise NotFound(
            f"The moderation model `{model}` does not exist: name a shield ({', '.join(self._shields) or 'none'}) "
            "or leave `model` out for the default moderation shields",
            param="model",
            reason="model_not_found",
        )

    async def register(self, shield_id: str, provider_shield_id: str, provider_id: str, params: dict[str, Any]) -> Shield:
        if not shield_id:
            raise InvalidArgument("`shield_id` is required", param="shield_id")
        if not provider_id:
            if len(self.providers) != 1:
                raise InvalidArgument(
                    f"`provider_id` is required when several providers exist: {', '.join(sorted(self.providers))}", param="provider_id"
                )
            provider_id = next(iter(self.providers))
        self._check_provider(provider_id)
        shield = Shield(shield_id, provider_id, provider_shield_id or shield_id, params)
        if shield_id in self._shields:
            raise AlreadyExists(f"a shield named `{shield_id}` is already registered", param="shield_id")
        # Outside the lock: a guard model look-up is a network call.
        await self.provider(shield).validate_shield(shield)
        async with self._lock:
            try:
                await self._persist(shield, replace=False)
            except UniqueViolation:
                # Registered meanwhile, here or through another replica.
                raise AlreadyExists(f"a shield named `{shield_id}` is already registered", param="shield_id") from None
            self._shields[shield_id] = shield
        return shield

    async def unregister(self, identifier: str) -> Shield:
        shield = await self.resolve(identifier, param="identifier")
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM shields WHERE identifier = %s", (shield.identifier,))
        async with self._lock:
            self._shields.pop(shield.identifier, None)
        return shield
