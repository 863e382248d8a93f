"""The eval service: datasets, scoring functions and scoring, benchmarks, and evaluation jobs
fanned out as shards over job workers."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from stackmesh_common.config import ConfigError
from stackmesh_common.service import ServiceContext, ServiceSpec
from stackmesh_eval.benchmarks import Benchmarks, SeededBenchmark
from stackmesh_eval.datasets.catalog import Datasets
from stackmesh_eval.datasets.store import DatasetStore
from stackmesh_eval.datasets_servicer import DatasetIOServicer, DatasetsServicer
from stackmesh_eval.eval_jobs import RUN_KIND, SHARD_KIND, EvalRunHandler, EvalShardHandler, Evaluations
from stackmesh_eval.eval_servicer import BenchmarksServicer, EvalServicer
from stackmesh_eval.evaluation import EvalRows
from stackmesh_eval.judge import InferenceJudge
from stackmesh_eval.scorer import Scorer
from stackmesh_eval.scoring_functions import ScoringFunctions
from stackmesh_eval.scoring_servicer import ScoringFunctionsServicer, ScoringServicer
from stackmesh_eval.settings import Settings

SHIPPED = resources.files("stackmesh_eval") / "shipped"


class SeededDataset(BaseModel):
    """A dataset the distribution registers at start from a file shipped with the service
    (`stackmesh_eval/shipped/`), so a benchmark runs out of the box."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str
    purpose: str
    shipped: str
    metadata: dict[str, Any] = {}


async def setup(ctx: ServiceContext) -> None:
    if not ctx.peers.has("inference"):
        raise ConfigError("the eval service needs the inference service in the distribution")
    settings: Settings = ctx.settings
    store = DatasetStore(ctx.pool)
    datasets = Datasets(store, ctx.peers.files if ctx.peers.has("vector_io") else None, settings.datasets, ctx.config.state_dir.resolve())
    for root in datasets.limits.local_roots:
        root.mkdir(parents=True, exist_ok=True)
    functions = ScoringFunctions(ctx.pool, ctx.peers.inference, settings.inference_timeout_s)
    scorer = Scorer(functions, InferenceJudge(ctx.peers.inference, settings.judge_max_tokens, settings.inference_timeout_s))
    benchmarks = Benchmarks(ctx.pool, store, functions)
    rows = EvalRows(ctx.pool)
    await functions.start()
    for seeded in ctx.resources["datasets"]:
        path = Path(str(SHIPPED / seeded.shipped))
        if not path.is_file():
            raise ConfigError(f"dataset {seeded.dataset_id!r} names shipped file {seeded.shipped!r}, which is not in {SHIPPED}")
        await datasets.register_shipped(seeded.dataset_id, seeded.purpose, path, seeded.metadata)
    await benchmarks.start([b.benchmark() for b in ctx.resources["benchmarks"]])

    queue = await ctx.job_queue(settings.shards.kind(SHARD_KIND), settings.shards, lambda: EvalShardHandler(ctx.peers, benchmarks, store, scorer, rows, settings))
    await ctx.job_queue(settings.runs.kind(RUN_KIND), settings.runs, lambda: EvalRunHandler(queue, rows, settings))
    if not ctx.serving:
        return  # a worker process: evaluation jobs only
    ctx.add_servicer(DatasetsServicer(datasets), pb_grpc.add_DatasetsServiceServicer_to_server)
    ctx.add_servicer(DatasetIOServicer(datasets), pb_grpc.add_DatasetIOServiceServicer_to_server)
    ctx.add_servicer(ScoringFunctionsServicer(functions), pb_grpc.add_ScoringFunctionsServiceServicer_to_server)
    ctx.add_servicer(ScoringServicer(scorer, datasets, settings), pb_grpc.add_ScoringServiceServicer_to_server)
    ctx.add_servicer(BenchmarksServicer(benchmarks), pb_grpc.add_BenchmarksServiceServicer_to_server)
    evaluations = Evaluations(queue, rows, benchmarks, store, scorer, ctx.peers, settings)
    ctx.add_servicer(EvalServicer(evaluations), pb_grpc.add_EvalServiceServicer_to_server)


SPEC = ServiceSpec(
    name="eval",
    setup=setup,
    migrations="stackmesh_eval.migrations",
    settings=Settings,
    resources={"datasets": SeededDataset, "benchmarks": SeededBenchmark},
    uses_nats=True,
)
