"""The safety service: shields on pluggable providers, run-shield and OpenAI moderations."""

from __future__ import annotations

from stackmesh.safety.v1 import safety_service_pb2_grpc as pb_grpc
from stackmesh_common.service import ServiceContext, ServiceSpec
from stackmesh_safety import detectors, providers
from stackmesh_safety.inference_client import GuardInference
from stackmesh_safety.providers.base import ProviderContext
from stackmesh_safety.servicer import ModerationsServicer, SafetyServicer, ShieldsServicer
from stackmesh_safety.settings import Settings
from stackmesh_safety.shields import ShieldRegistry, ShieldResource
from stackmesh_safety.workers import DetectorWorkers


def provider_context(ctx: ServiceContext) -> ProviderContext:
    settings: Settings = ctx.settings
    inference = GuardInference(ctx.peers.inference) if ctx.peers.has("inference") else None
    workers = DetectorWorkers(settings.detectors.workers, settings.detectors.timeout_s, detectors.warm_up)
    workers.start()
    ctx.on_close(workers.close)
    context = ProviderContext(inference, workers)

    async def cancel_background() -> None:
        for task in list(context.tasks):
            task.cancel()

    ctx.on_close(cancel_background)
    return context


async def setup(ctx: ServiceContext) -> None:
    settings: Settings = ctx.settings
    shields = ShieldRegistry(ctx.pool, ctx.provider_impls)
    await shields.start(ctx.resources["shields"])
    ctx.add_servicer(ShieldsServicer(shields), pb_grpc.add_ShieldsServiceServicer_to_server)
    ctx.add_servicer(SafetyServicer(shields, settings.limits), pb_grpc.add_SafetyServiceServicer_to_server)
    ctx.add_servicer(ModerationsServicer(shields, settings.limits), pb_grpc.add_ModerationsServiceServicer_to_server)


SPEC = ServiceSpec(
    name="safety",
    setup=setup,
    migrations="stackmesh_safety.migrations",
    providers=providers.registry,
    settings=Settings,
    resources={"shields": ShieldResource},
    provider_context=provider_context,
)
