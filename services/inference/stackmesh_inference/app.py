"""The inference service: providers, models, chat/completions/embeddings, and OpenAI batches."""

from __future__ import annotations

from stackmesh.inference.v1 import batch_service_pb2_grpc as batch_grpc
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh_common import usage
from stackmesh_common.service import ServiceContext, ServiceSpec
from stackmesh_common.usage import UsageMeter
from stackmesh_inference import providers
from stackmesh_inference.batches.service import BatchesServicer, open_batches
from stackmesh_inference.models import ModelRegistry, ModelResource
from stackmesh_inference.servicer import InferenceServicer, ModelsServicer
from stackmesh_inference.settings import Settings
from stackmesh_inference.store import CompletionStore


async def setup(ctx: ServiceContext) -> None:
    batches = await open_batches(ctx)
    if not ctx.serving:
        return
    if ctx.peers.has(ctx.config.auth.service):
        # Tokens each principal spends, for the auth service's tokens_per_day quotas.
        meter = UsageMeter(ctx.peers.channel(ctx.config.auth.service))
        usage.start(meter)
        ctx.background(meter.run(), "usage reports")
        ctx.on_close(meter.flush)
    models = ModelRegistry(ctx.pool, ctx.provider_impls, ctx.settings.max_loaded_models)
    await models.start(ctx.resources["models"])
    store = CompletionStore(ctx.pool)
    store.start()
    ctx.on_close(store.close)
    retention = ctx.settings.stored_completions
    if retention.retention_days:
        ctx.background(store.expire(retention.retention_days, retention.sweep_interval_s), "expire stored completions")
    ctx.add_servicer(ModelsServicer(models), pb_grpc.add_ModelsServiceServicer_to_server)
    ctx.add_servicer(InferenceServicer(models, store, ctx.draining), pb_grpc.add_InferenceServiceServicer_to_server)
    ctx.add_servicer(BatchesServicer(batches), batch_grpc.add_BatchesServiceServicer_to_server)


SPEC = ServiceSpec(
    name="inference",
    setup=setup,
    migrations="stackmesh_inference.migrations",
    providers=providers.registry,
    settings=Settings,
    resources={"models": ModelResource},
    # Providers resolve relative paths (model roots) under the stack's state dir.
    provider_context=lambda ctx: ctx.config.state_dir.resolve(),
    uses_nats=True,
    workers_load_providers=False,
)
