"""The benchmarks registry: a dataset and the scoring functions it is evaluated with, in the
shared resources table (seeded ones come from the distribution)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict

from stackmesh_common.errors import InvalidArgument
from stackmesh_common.resources import Resource, ResourceRegistry
from stackmesh_eval.datasets.catalog import check_id
from stackmesh_eval.datasets.store import DatasetStore
from stackmesh_eval.scoring_functions import ScoringFunctions

PROVIDER_ID = "meta-reference"


@dataclass(frozen=True)
class Benchmark:
    id: str
    dataset_id: str
    scoring_functions: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    provider_id: str = PROVIDER_ID
    provider_resource_id: str = ""


def _benchmark(resource: Resource) -> Benchmark:
    return Benchmark(
        resource.id,
        resource.params["dataset_id"],
        list(resource.params["scoring_functions"]),
        resource.params.get("metadata") or {},
        resource.provider_id,
        resource.provider_resource_id,
    )


def _resource(benchmark: Benchmark) -> Resource:
    return Resource(
        id=benchmark.id,
        provider_id=benchmark.provider_id,
        provider_resource_id=benchmark.provider_resource_id or benchmark.id,
        params={"dataset_id": benchmark.dataset_id, "scoring_functions": benchmark.scoring_functions, "metadata": benchmark.metadata},
    )


async def _as_stored(resource: Resource) -> Resource:
    return resource


class Benchmarks:
    def __init__(self, pool: AsyncConnectionPool, datasets: DatasetStore, functions: ScoringFunctions) -> None:
        # Listed even when their dataset is gone: evaluating one then says so.
        self.registry = ResourceRegistry(
            pool, "benchmarks", {PROVIDER_ID: None}, noun="benchmark", activate=_as_stored, list_unservable=True
        )
        self.datasets = datasets
        self.functions = functions

    async def start(self, seeded: list[Benchmark]) -> None:
        await self.registry.start([_resource(b) for b in seeded])

    async def list(self) -> list[Benchmark]:
        return [_benchmark(r) for r in await self.registry.list()]

    async def get(self, benchmark_id: str) -> Benchmark:
        return _benchmark(await self.registry.get(benchmark_id, "benchmark_id"))

    async def register(self, benchmark: Benchmark) -> None:
        check_id(benchmark.id, "benchmark_id", "benchmark")
        if not benchmark.scoring_functions:
            raise InvalidArgument("`scoring_functions` must name at least one scoring function", param="scoring_functions")
        if benchmark.provider_id not in ("", PROVIDER_ID):
            raise InvalidArgument(f"provider {benchmark.provider_id!r} does not exist; providers: {PROVIDER_ID}", param="provider_id")
        await self.datasets.get(benchmark.dataset_id)
        for index, fn_id in enumerate(benchmark.scoring_functions):
            await self.functions.get(fn_id, f"scoring_functions[{index}]")
        await self.registry.register(_resource(benchmark), "benchmark_id")

    async def unregister(self, benchmark_id: str) -> None:
        await self.registry.unregister(benchmark_id, "benchmark_id")


class SeededBenchmark(BaseModel):
    """A benchmark the distribution registers at start (`resources.benchmarks`); its dataset
    is a shipped file registered with it (`resources.datasets`)."""

    model_config = ConfigDict(extra="forbid")

    benchmark_id: str
    dataset_id: str
    scoring_functions: list[str]
    metadata: dict[str, Any] = {}
    provider_id: str | None = None

    def benchmark(self) -> Benchmark:
        return Benchmark(self.benchmark_id, self.dataset_id, self.scoring_functions, self.metadata)
