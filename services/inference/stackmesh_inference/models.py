"""Models: resources of kind "models", each routed to the provider that serves it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.errors import FailedPrecondition, InvalidArgument
from stackmesh_common.resources import Resource, ResourceRegistry

MODEL_TYPES = ("llm", "embedding", "rerank")

# A registered model as the servicers see it: `type` is the model type, `params` its
# metadata (what its provider reports; the distribution's own models may override it).
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

    def __init__(self, pool: AsyncConnectionPool, providers: dict[str, Any], max_loaded: int) -> None:
        self.registry = ResourceRegistry(pool, "models", providers, noun="model", activate=self._load, deactivate=self._unload)
        self.max_loaded = max_loaded
        self._loaded: set[tuple[str, str]] = set()  # (provider, provider model) holding weights here

    def provider(self, model: RegisteredModel) -> Any:
        return self.registry.provider(model)

    async def _load(self, model: Resource) -> Resource:
        provider = self.provider(model)
        weights = (model.provider_id, model.provider_resource_id)
        holds_weights = getattr(provider, "holds_weights", False)
        if holds_weights and weights not in self._loaded and len(self._loaded) >= self.max_loaded and model.source == "api":
            raise FailedPrecondition(
                f"this inference service holds {len(self._loaded)} models' weights, its limit (settings.max_loaded_models); "
                "unregister one first",
                param="model_id",
            )
        reported = await provider.load_model(model.provider_resource_id, model.type)
        if model.source == "api":
            # What the provider measured (context length, tool calling) is not the caller's to change.
            for key, value in model.params.items():
                if key in reported and reported[key] != value:
                    if holds_weights and weights not in self._loaded:
                        await provider.unload_model(model.provider_resource_id)
                    raise InvalidArgument(
                        f"`metadata.{key}` is {value!r} but the provider reports {reported[key]!r}; leave it out", param=f"metadata.{key}"
                    )
        if holds_weights:
            self._loaded.add(weights)
        return replace(model, params={**reported, **model.params})

    async def _unload(self, model: Resource, shared: bool) -> None:
        # Two registrations may share weights; free them with the last one.
        if not shared:
            await self.provider(model).unload_model(model.provider_resource_id)
            self._loaded.discard((model.provider_id, model.provider_resource_id))

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
