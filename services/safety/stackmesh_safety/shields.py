"""Shields: resources of kind "shields", each routed to the provider that runs it."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.errors import FailedPrecondition, NotFound
from stackmesh_common.resources import Resource, ResourceRegistry
from stackmesh_safety.providers.base import SafetyProvider, Shield

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

    def resource(self) -> Resource:
        return Resource(self.shield_id, self.provider_id, self.provider_shield_id or self.shield_id, params=self.params)


def _shield(resource: Resource) -> Shield:
    return Shield(resource.id, resource.provider_id, resource.provider_resource_id, resource.params)


class ShieldRegistry:
    def __init__(self, pool: AsyncConnectionPool, providers: dict[str, Any]) -> None:
        self.registry = ResourceRegistry(pool, "shields", providers, noun="shield", activate=self._check, list_unservable=True)
        self._moderation: list[str] = []

    def provider(self, shield: Shield) -> SafetyProvider:
        return self.registry.providers[shield.provider_id]

    async def _check(self, resource: Resource) -> Resource:
        await self.registry.providers[resource.provider_id].validate_shield(_shield(resource))
        return resource

    async def start(self, resources: list[ShieldResource]) -> None:
        """Registers the distribution's shields; one its provider cannot run yet (its guard
        model is not registered yet, say) is logged and picked up once it can."""
        self._moderation = [r.shield_id for r in resources if r.moderation]
        await self.registry.start([r.resource() for r in resources])

    async def list(self) -> list[Shield]:
        return [_shield(r) for r in await self.registry.list()]

    async def resolve(self, identifier: str, param: str = "shield_id") -> Shield:
        return _shield(await self.registry.get(identifier, param))

    async def for_moderation(self, model: str) -> list[Shield]:
        """The shields a moderation request runs: the one it names (by shield id, or by the
        model a shield runs on), or the distribution's moderation shields."""
        shields = {s.identifier: s for s in await self.list()}
        if not model or model.startswith(OPENAI_MODERATION_PREFIXES):
            chosen = [shields[s] for s in self._moderation if s in shields]
            if not chosen:
                raise FailedPrecondition(
                    "no moderation shield is configured: name a shield in `model` "
                    f"(available: {', '.join(shields) or 'none'})",
                    param="model",
                )
            return chosen
        try:
            return [await self.resolve(model, param="model")]
        except NotFound:
            pass
        by_resource = [s for s in shields.values() if s.provider_resource_id == model]
        if by_resource:
            return by_resource[:1]
        raise NotFound(
            f"The moderation model `{model}` does not exist: name a shield ({', '.join(shields) or 'none'}) "
            "or leave `model` out for the default moderation shields",
            param="model",
            reason="model_not_found",
        )

    async def register(self, shield_id: str, provider_shield_id: str, provider_id: str, params: dict[str, Any]) -> Shield:
        resource = Resource(shield_id, provider_id, provider_shield_id or shield_id, params=params)
        return _shield(await self.registry.register(resource, param="shield_id"))

    async def unregister(self, identifier: str) -> Shield:
        return _shield(await self.registry.unregister(identifier, param="identifier"))
