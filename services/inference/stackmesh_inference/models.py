"""The model registry: persisted in Postgres, each model routed to the provider serving it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound
from stackmesh_common.registry import LoadedProvider

log = logging.getLogger("stackmesh.inference.models")

MODEL_TYPES = ("llm", "embedding", "rerank")
# How stale a replica's view of models registered elsewhere may get before a list re-reads it.
REFRESH_INTERVAL_S = 2.0


class ModelResource(BaseModel):
    """A model the distribution registers at start-up (`resources.models`)."""

    model_id: str
    provider_id: str
    provider_model_id: str | None = None
    model_type: str = "llm"
    metadata: dict[str, Any] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)


@dataclass
class RegisteredModel:
    id: str
    provider_id: str
    provider_resource_id: str
    model_type: str
    metadata: dict[str, Any]
    aliases: list[str] = field(default_factory=list)
    created: int = 0


_COLUMNS = "id, provider_id, provider_resource_id, model_type, metadata, aliases, extract(epoch from created_at)::int"


def _row_to_model(row: tuple) -> RegisteredModel:
    return RegisteredModel(row[0], row[1], row[2], row[3], row[4], list(row[5]), row[6])


class ModelRegistry:
    """Resolves a client's `model` (id, alias or `provider_id/id`) to a loaded model."""

    def __init__(self, pool: AsyncConnectionPool, providers: dict[str, LoadedProvider]) -> None:
        self.pool = pool
        self.providers = providers
        self._models: dict[str, RegisteredModel] = {}
        self._lock = asyncio.Lock()
        self._refreshed_at = 0.0

    def provider(self, model: RegisteredModel) -> Any:
        return self.providers[model.provider_id].impl

    def _index(self, model: RegisteredModel) -> None:
        self._models[model.id] = model

    def _lookup(self, name: str) -> RegisteredModel | None:
        if name in self._models:
            return self._models[name]
        for model in self._models.values():
            if name in model.aliases or name == f"{model.provider_id}/{model.id}":
                return model
        return None

    async def _load(self, model: RegisteredModel) -> dict[str, Any]:
        if model.provider_id not in self.providers:
            raise InvalidArgument(
                f"provider {model.provider_id!r} does not exist; providers: {', '.join(sorted(self.providers))}",
                param="provider_id",
            )
        return await self.provider(model).load_model(model.provider_resource_id, model.model_type)

    async def start(self, resources: list[ModelResource]) -> None:
        """Loads every persisted model and registers the distribution's models."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM models")).fetchall()
        persisted = {row[0]: _row_to_model(row) for row in rows}
        for resource in resources:
            model = RegisteredModel(
                id=resource.model_id,
                provider_id=resource.provider_id,
                provider_resource_id=resource.provider_model_id or resource.model_id,
                model_type=resource.model_type,
                metadata=resource.metadata,
                aliases=resource.aliases,
            )
            # The distribution file is the source of truth for the models it names.
            await self._persist(model, replace=True)
            persisted[model.id] = model
        for model in persisted.values():
            try:
                model.metadata = {**await self._load(model), **model.metadata}
            except Exception:
                log.exception("could not load persisted model %s; it stays unavailable", model.id)
                continue
            model.created = model.created or int(time.time())
            self._index(model)

    async def _persist(self, model: RegisteredModel, replace: bool) -> None:
        conflict = (
            "ON CONFLICT (id) DO UPDATE SET provider_id = EXCLUDED.provider_id, provider_resource_id = EXCLUDED.provider_resource_id,"
            " model_type = EXCLUDED.model_type, metadata = EXCLUDED.metadata, aliases = EXCLUDED.aliases"
            if replace
            else ""
        )
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO models (id, provider_id, provider_resource_id, model_type, metadata, aliases)"
                f" VALUES (%s, %s, %s, %s, %s, %s) {conflict} RETURNING extract(epoch from created_at)::int",
                (model.id, model.provider_id, model.provider_resource_id, model.model_type, Jsonb(model.metadata), model.aliases),
            )
            model.created = (await cur.fetchone())[0]

    async def list(self) -> list[RegisteredModel]:
        if time.monotonic() - self._refreshed_at > REFRESH_INTERVAL_S:
            await self._refresh()
        return sorted(self._models.values(), key=lambda m: (m.created, m.id))

    async def _refresh(self) -> None:
        """Picks up models registered or removed through another replica."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM models")).fetchall()
        current = {row[0]: _row_to_model(row) for row in rows}
        self._refreshed_at = time.monotonic()
        async with self._lock:
            for model_id in list(self._models):
                if model_id not in current:
                    self._models.pop(model_id)
            for model_id, model in current.items():
                if model_id not in self._models:
                    try:
                        model.metadata = {**await self._load(model), **model.metadata}
                        self._index(model)
                    except Exception:
                        log.exception("could not load model %s registered elsewhere", model_id)

    async def resolve(self, name: str, model_type: str | None = None, param: str = "model") -> RegisteredModel:
        if not name:
            raise InvalidArgument(f"`{param}` is required", param=param)
        model = self._lookup(name)
        if model is None:
            await self._refresh()
            model = self._lookup(name)
        if model is None:
            raise NotFound(
                f"The model `{name}` does not exist. Available models: {', '.join(sorted(self._models)) or 'none'}",
                param=param,
                reason="model_not_found",
            )
        if model_type and model.model_type != model_type:
            raise InvalidArgument(
                f"model `{name}` is of type {model.model_type!r}; this endpoint needs a model of type {model_type!r}",
                param=param,
                reason="wrong_model_type",
            )
        return model

    async def register(
        self,
        model_id: str,
        provider_model_id: str,
        provider_id: str,
        model_type: str,
        metadata: dict[str, Any],
        aliases: list[str],
    ) -> RegisteredModel:
        if not model_id:
            raise InvalidArgument("`model_id` is required", param="model_id")
        model_type = model_type or "llm"
        if model_type not in MODEL_TYPES:
            raise InvalidArgument(f"`model_type` must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}", param="model_type")
        if not provider_id:
            if len(self.providers) != 1:
                raise InvalidArgument(
                    f"`provider_id` is required when several providers exist: {', '.join(sorted(self.providers))}", param="provider_id"
                )
            provider_id = next(iter(self.providers))
        async with self._lock:
            for name in [model_id, *aliases]:
                if self._lookup(name) is not None:
                    raise AlreadyExists(f"a model named `{name}` is already registered", param="model_id")
            model = RegisteredModel(model_id, provider_id, provider_model_id or model_id, model_type, metadata, aliases)
            model.metadata = {**await self._load(model), **metadata}
            try:
                await self._persist(model, replace=False)
            except Exception as exc:
                if "duplicate key" in str(exc):
                    raise AlreadyExists(f"a model named `{model_id}` is already registered", param="model_id") from None
                raise
            self._index(model)
        return model

    async def unregister(self, model_id: str) -> RegisteredModel:
        model = await self.resolve(model_id, param="model_id")
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM models WHERE id = %s", (model.id,))
        self._models.pop(model.id, None)
        # Two registrations may share weights; free them with the last one.
        if not any(
            other.provider_id == model.provider_id and other.provider_resource_id == model.provider_resource_id
            for other in self._models.values()
        ):
            await self.provider(model).unload_model(model.provider_resource_id)
        return model
