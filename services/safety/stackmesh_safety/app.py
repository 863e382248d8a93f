"""Builds the safety service from the distribution: providers, shields, servicers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from stackmesh.inspect.v1 import inspect_service_pb2_grpc as inspect_grpc
from stackmesh.safety.v1 import safety_service_pb2_grpc as pb_grpc
from stackmesh_common.config import ConfigError, StackConfig
from stackmesh_common.db import migrate, open_pool
from stackmesh_common.inspect import InspectServicer
from stackmesh_common.registry import LoadedProvider
from stackmesh_common.server import Servicer
from stackmesh_safety import providers
from stackmesh_safety.inference_client import InferenceClient
from stackmesh_safety.providers.base import ProviderContext
from stackmesh_safety.servicer import ModerationsServicer, SafetyServicer, ShieldsServicer
from stackmesh_safety.shields import ShieldRegistry, ShieldResource

SERVICE = "safety"
SHIELDS = "stackmesh.safety.v1.ShieldsService"
SAFETY = "stackmesh.safety.v1.SafetyService"
MODERATIONS = "stackmesh.safety.v1.ModerationsService"
INSPECT = "stackmesh.inspect.v1.InspectService"


@dataclass
class SafetyApp:
    servicers: list[Servicer]
    pool: AsyncConnectionPool
    context: ProviderContext
    loaded: list[LoadedProvider]
    draining: asyncio.Event

    async def close(self) -> None:
        for task in list(self.context.tasks):
            task.cancel()
        for provider in self.loaded:
            await provider.impl.close()
        if self.context.inference is not None:
            await self.context.inference.close()
        await self.pool.close()


def _resources(config: StackConfig) -> list[ShieldResource]:
    service = config.service(SERVICE)
    provider_ids = {p.provider_id for p in service.providers}
    resources = [ShieldResource.model_validate(s) for s in service.resources.get("shields", [])]
    for resource in resources:
        if resource.provider_id not in provider_ids:
            raise ConfigError(
                f"shield {resource.shield_id!r} names provider {resource.provider_id!r}; safety providers: {', '.join(sorted(provider_ids))}"
            )
    return resources


async def build(config: StackConfig) -> SafetyApp:
    service = config.service(SERVICE)
    registry = providers.registry()
    # Parse every provider config and shield before loading anything: a typo fails fast.
    for provider in service.providers:
        registry.parse_config(provider)
    resources = _resources(config)

    pool = await open_pool(config.postgres, schema=SERVICE)
    await migrate(pool, SERVICE, "stackmesh_safety.migrations")
    inference = InferenceClient(config.services["inference"].address) if "inference" in config.services else None
    context = ProviderContext(inference)
    loaded = [await registry.create(p, context) for p in service.providers]
    shields = ShieldRegistry(pool, {p.provider_id: p for p in loaded})
    await shields.start(resources)

    hosted = [SHIELDS, SAFETY, MODERATIONS]
    servicers = [
        Servicer(ShieldsServicer(shields), pb_grpc.add_ShieldsServiceServicer_to_server, SHIELDS),
        Servicer(SafetyServicer(shields), pb_grpc.add_SafetyServiceServicer_to_server, SAFETY),
        Servicer(ModerationsServicer(shields), pb_grpc.add_ModerationsServiceServicer_to_server, MODERATIONS),
        # Every service hosts inspect; the gateway picks one to aggregate the mesh.
        Servicer(InspectServicer(SERVICE, config, loaded, hosted), inspect_grpc.add_InspectServiceServicer_to_server, INSPECT),
    ]
    return SafetyApp(servicers, pool, context, loaded, asyncio.Event())
