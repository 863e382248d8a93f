"""Builds the inference service from the distribution: providers, models, servicers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh.inspect.v1 import inspect_service_pb2_grpc as inspect_grpc
from stackmesh_common.config import StackConfig
from stackmesh_common.db import migrate, open_pool
from stackmesh_common.inspect import InspectServicer
from stackmesh_common.registry import LoadedProvider
from stackmesh_common.server import Servicer
from stackmesh_inference import providers
from stackmesh_inference.models import ModelRegistry, ModelResource
from stackmesh_inference.servicer import InferenceServicer, ModelsServicer
from stackmesh_inference.store import CompletionStore

SERVICE = "inference"
MODELS = "stackmesh.inference.v1.ModelsService"
INFERENCE = "stackmesh.inference.v1.InferenceService"
INSPECT = "stackmesh.inspect.v1.InspectService"


@dataclass
class InferenceApp:
    servicers: list[Servicer]
    pool: AsyncConnectionPool
    store: CompletionStore
    loaded: list[LoadedProvider]
    draining: asyncio.Event

    async def close(self) -> None:
        await self.store.close()
        for provider in self.loaded:
            await provider.impl.close()
        await self.pool.close()


async def build(config: StackConfig) -> InferenceApp:
    service = config.service(SERVICE)
    registry = providers.registry()
    # Parse every provider config before loading anything: a typo fails fast.
    for provider in service.providers:
        registry.parse_config(provider)
    resources = [ModelResource.model_validate(m) for m in service.resources.get("models", [])]

    pool = await open_pool(config.postgres, schema=SERVICE)
    await migrate(pool, SERVICE, "stackmesh_inference.migrations")
    loaded = [await registry.create(p) for p in service.providers]
    models = ModelRegistry(pool, {p.provider_id: p for p in loaded})
    await models.start(resources)
    store = CompletionStore(pool)
    store.start()

    draining = asyncio.Event()
    hosted = [MODELS, INFERENCE]
    servicers = [
        Servicer(ModelsServicer(models), pb_grpc.add_ModelsServiceServicer_to_server, MODELS),
        Servicer(InferenceServicer(models, store, draining), pb_grpc.add_InferenceServiceServicer_to_server, INFERENCE),
        # Every service hosts inspect; the gateway picks one to aggregate the mesh.
        Servicer(InspectServicer(SERVICE, config, loaded, hosted), inspect_grpc.add_InspectServiceServicer_to_server, INSPECT),
    ]
    return InferenceApp(servicers, pool, store, loaded, draining)
