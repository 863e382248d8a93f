"""The post_training service: supervised fine-tuning (LoRA, full) and DPO as resumable jobs
whose finished models are registered with the inference service, and synthetic data
generation jobs whose kept answers become datasets of the eval service."""

from __future__ import annotations

from stackmesh.post_training.v1 import post_training_service_pb2_grpc as pb_grpc
from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2_grpc as synthetic_grpc
from stackmesh_common.config import ConfigError
from stackmesh_common.jobs import JobKind
from stackmesh_common.service import ServiceContext, ServiceSpec
from stackmesh_post_training.base_models import BaseModels
from stackmesh_post_training.jobs import KIND, Paths, TrainingHandler
from stackmesh_post_training.servicer import PostTrainingServicer
from stackmesh_post_training.settings import Settings
from stackmesh_post_training.store import TrainingStore
from stackmesh_post_training.synthetic.jobs import KIND as SYNTHETIC_KIND
from stackmesh_post_training.synthetic.jobs import SyntheticHandler
from stackmesh_post_training.synthetic.servicer import SyntheticDataServicer
from stackmesh_post_training.synthetic.store import SyntheticStore


async def setup(ctx: ServiceContext) -> None:
    for peer in ("inference", "eval"):
        if not ctx.peers.has(peer):
            raise ConfigError(f"the post_training service needs the {peer} service in the distribution")
    settings: Settings = ctx.settings
    data_dir = settings.data_dir if settings.data_dir.is_absolute() else ctx.config.state_dir.resolve() / settings.data_dir
    paths = Paths(data_dir)
    store = TrainingStore(ctx.pool)
    workers = settings.jobs
    kind = JobKind(KIND, ack_wait_s=workers.ack_wait_s, max_deliver=workers.max_deliver, cancel_grace_s=workers.cancel_grace_s)
    queue = await ctx.job_queue(kind, workers, lambda: TrainingHandler(ctx.peers, store, settings, paths))
    synthetic_store = SyntheticStore(ctx.pool)
    synthetic_kind = settings.synthetic.kind(SYNTHETIC_KIND)
    await ctx.job_queue(synthetic_kind, settings.synthetic, lambda: SyntheticHandler(ctx.peers, synthetic_store, settings))
    if not ctx.serving:
        return  # a worker process: training and synthetic data jobs only
    base_models = BaseModels(ctx.peers.inference, settings.models, paths.data_dir / "models", settings.peer_timeout_s)
    ctx.add_servicer(PostTrainingServicer(queue, kind, store, base_models, ctx.peers, settings), pb_grpc.add_PostTrainingServiceServicer_to_server)
    ctx.add_servicer(
        SyntheticDataServicer(queue, synthetic_kind, synthetic_store, ctx.peers, settings),
        synthetic_grpc.add_SyntheticDataGenerationServiceServicer_to_server,
    )


SPEC = ServiceSpec(
    name="post_training",
    setup=setup,
    migrations="stackmesh_post_training.migrations",
    settings=Settings,
    uses_nats=True,
)
