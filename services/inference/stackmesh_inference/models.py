"""Models: resources of kind "models", each routed to the provider that serves it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.errors import InvalidArgument
from stackmesh_common.resources import Resource, ResourceRegistry

MODEL_TYPES = ("llm", "embedding", "rerank")

# A registered model as the servicers see it: `type` is the model type, `params` its
# metadata (what its provider reports, overridden by what was registered).
RegisteredModel = Resource


class ModelResource(BaseModel):
    """A model the distribution registers at start-up (`resources.models`)."""

    model_config = ConfigDict(extra="forbid")

    model_id: str
    provider_id: str
    provider_model_id: str | None = None
    model_type: str = "llm"
    metadata: dict[str, Any] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)

    def resource(self) -> Resource:
        return Resource(
            self.model_id, self.provider_id, self.provider_model_id or self.model_id, self.model_type, self.metadata, tuple(self.aliases)
        )


class ModelRegistry:
    """Resolves a client's `model` (id, alias or `provider_id/id`) to a loaded model."""

    def __init__(self, pool: AsyncConnectionPool, providers: dict[str, Any]) -> None:
        self.registry = ResourceRegistry(pool, "models", providers, noun="model", activate=self._load, deactivate=self._unload)

    def provider(self, model: RegisteredModel) -> Any:
        return self.registry.provider(model)

    async def _load(self, model: Resource) -> Resource:
        reported = await self.provider(model).load_model(model.provider_resource_id, model.type)
        return replace(model, params={**reported, **model.params})

    async def _unload(self, model: Resource, shared: bool) -> None:
        # Two registrations may share weights; free them with the last one.
        if not shared:
            await self.provider(model).unload_model(model.provider_resource_id)

    async def start(self, resources: list[ModelResource]) -> None:
        await self.registry.start([r.resource() for r in resources])

    async def list(self) -> list[RegisteredModel]:
        return await self.registry.list()

    async def resolve(self, name: str, model_type: str | None = None, param: str = "model") -> RegisteredModel:
        model = await self.registry.get(name, param)
        if model_type and model.type != model_type:
            raise InvalidArgument(
                f"model `{name}` is of type {model.type!r}; this endpoint needs a model of type {model_type!r}",
                param=param,
                reason="wrong_model_type",
            )
        return model

    async def register(
        self, model_id: str, provider_model_id: str, provider_id: str, model_type: str, metadata: dict[str, Any], aliases: list[str]
    ) -> RegisteredModel:
        model_type = model_type or "llm"
        if model_type not in MODEL_TYPES:
            raise InvalidArgument(f"`model_type` must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}", param="model_type")
        resource = Resource(model_id, provider_id, provider_model_id or model_id, model_type, metadata, tuple(aliases))
        return await self.registry.register(resource, param="model_id")

    async def unregister(self, model_id: str) -> RegisteredModel:
        return await self.registry.unregister(model_id, param="model_id")
