"""Evaluation jobs on the job runtime, fanned out over workers.

A job (kind "eval") is a coordinator: it queues its rows as shards (kind "eval_shard", ids
derived from the job's, so queuing again after a redelivery is a no-op), at most
`shards_in_flight` at a time, follows them, reports rows done as progress, and aggregates
the scores when all are stored. A shard generates and scores its rows, `row_concurrency` at
a time, storing each row once: a redelivered shard skips the rows already stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh_common.access import Action
from stackmesh_common.errors import FailedPrecondition, InvalidArgument, NotFound
from stackmesh_common.jobs import JobChanges, JobContext, JobQueue, JobRecord, JobStore, PermanentJobError
from stackmesh_common.peers import Peers
from stackmesh_common.protojson import plain
from stackmesh_eval.benchmarks import Benchmark, Benchmarks
from stackmesh_eval.candidates import candidate_for
from stackmesh_eval.datasets.store import DatasetStore
from stackmesh_eval.evaluation import EvalRows, RowWriter, evaluate_row
from stackmesh_eval.scorer import Scorer, ScoringPlan, aggregations_of
from stackmesh_eval.scoring.aggregation import aggregate
from stackmesh_eval.scoring.params import parse_params
from stackmesh_eval.settings import Settings

log = logging.getLogger("stackmesh.eval")

RUN_KIND = "eval"
SHARD_KIND = "eval_shard"
# Longest a coordinator waits between looks at its shards (a shard's change wakes it sooner).
FOLLOW_INTERVAL_S = 1.0
# How often a coordinator counts the rows done, for the job's progress.
PROGRESS_INTERVAL_S = 0.5


# Shards a job's rows are cut into at least, per shard in flight (when it has rows enough).
SHARDS_PER_SLOT = 4


def shard_id(job_id: str, start: int) -> str:
    return f"{job_id}.rows-{start}"


def shard_size(row_count: int, settings: Settings) -> int:
    """Rows per shard: at most `shards.rows`, and small enough that a job has SHARDS_PER_SLOT
    shards per slot, so the slots its last shards leave idle are few."""
    return max(1, min(settings.shards.rows, -(-row_count // (settings.shards_in_flight * SHARDS_PER_SLOT))))


@dataclass
class EvalPlan:
    """What a job's rows need, resolved from the registries the same way by every shard."""

    benchmark: Benchmark
    plans: list[ScoringPlan]


async def resolve(benchmarks: Benchmarks, scorer: Scorer, benchmark_id: str, config: Any) -> EvalPlan:
    benchmark = await benchmarks.get(benchmark_id)
    overrides = {fn_id: plain(params) for fn_id, params in config.scoring_params.items()}
    unknown = set(overrides) - set(benchmark.scoring_functions)
    if unknown:
        raise InvalidArgument(
            f"`scoring_params` names {', '.join(sorted(unknown))}, which benchmark `{benchmark_id}` does not score with "
            f"(it uses {', '.join(benchmark.scoring_functions)})",
            param="benchmark_config.scoring_params",
        )
    requested = {fn_id: overrides.get(fn_id) for fn_id in benchmark.scoring_functions}
    return EvalPlan(benchmark, await scorer.plan(requested, "benchmark_config.scoring_params"))


class EvalRunHandler:
    payload_type = pb.EvalRunJob

    def __init__(self, queue: JobQueue, rows: EvalRows, settings: Settings) -> None:
        self.queue = queue
        self.rows = rows
        self.settings = settings
        self.shard_kind = settings.shards.kind(SHARD_KIND)

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        payload: pb.EvalRunJob = job.payload
        size = shard_size(payload.row_count, self.settings)
        waiting = deque(range(0, payload.row_count, size))
        running: set[str] = set()
        counted_at = 0.0
        async with JobChanges(self.queue.store.pool, shard_id(job.id, 0).rpartition("-")[0]) as changes:
            while waiting or running:
                if job.cancel_requested.is_set():
                    for shard in running:
                        await self.queue.cancel(self.shard_kind, shard)
                    return None
                while waiting and len(running) < self.settings.shards_in_flight:
                    start = waiting.popleft()
                    shard = pb.EvalShardJob(eval_job_id=job.id, start_index=start, stop_index=min(start + size, payload.row_count))
                    record = await self.queue.submit(self.shard_kind, shard_id(job.id, start), shard, total=shard.stop_index - start)
                    running.add(record.id)
                for shard in list(running):
                    record = await self.queue.store.get(shard)
                    if record.state == "completed":
                        running.discard(shard)
                    elif record.terminal:
                        reason = (record.error or {}).get("message", record.state)
                        raise PermanentJobError(f"rows {_rows_of(record)} could not be evaluated: {reason}")
                if time.monotonic() - counted_at >= PROGRESS_INTERVAL_S:
                    counted_at = time.monotonic()
                    await job.progress(await self.rows.count(job.id), payload.row_count, "evaluating")
                if running:
                    # Woken by a shard's progress or end; the timeout covers a lost notification.
                    await changes.wait(FOLLOW_INTERVAL_S)
        return await self._aggregate(job, payload)

    async def _aggregate(self, job: JobContext, payload: pb.EvalRunJob) -> dict[str, Any]:
        results = await self.rows.all(job.id)
        await job.progress(len(results), payload.row_count, "aggregating", force=True)
        aggregated = {
            fn_id: aggregate([row.scores[fn_id] for row in results], aggregations_of(parse_params(plain(params))))
            for fn_id, params in payload.scoring.items()
        }
        return {"rows": len(results), "aggregated_results": aggregated}

    async def failed(self, job: JobContext, error: BaseException) -> None:
        # Shards still queued would only burn generations for a result nobody gets.
        for start in range(0, job.payload.row_count, shard_size(job.payload.row_count, self.settings)):
            try:
                await self.queue.cancel(self.shard_kind, shard_id(job.id, start))
            except NotFound:
                break  # not queued: neither is any after it

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        return None


def _rows_of(record: JobRecord) -> str:
    start = int(record.id.rpartition("-")[2])
    return f"{start}–{start + record.total - 1}"


class EvalShardHandler:
    payload_type = pb.EvalShardJob

    def __init__(self, peers: Peers, benchmarks: Benchmarks, datasets: DatasetStore, scorer: Scorer, rows: EvalRows, settings: Settings) -> None:
        self.peers = peers
        self.benchmarks = benchmarks
        self.datasets = datasets
        self.scorer = scorer
        self.rows = rows
        self.settings = settings
        self.jobs = JobStore(rows.pool)

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        shard: pb.EvalShardJob = job.payload
        parent = await self.jobs.get(shard.eval_job_id)
        if parent.terminal or parent.cancel_requested:
            return None
        run: pb.EvalRunJob = parent.unpack(pb.EvalRunJob)
        try:
            plan = await resolve(self.benchmarks, self.scorer, run.benchmark_id, run.benchmark_config)
            # The job's owner must still read the dataset (not one registered anew under its id).
            await self.datasets.get(plan.benchmark.dataset_id, "benchmark_id")
            done = await self.rows.done(parent.id, shard.start_index, shard.stop_index)
            rows = [r for r in await self.datasets.rows(plan.benchmark.dataset_id, shard.start_index, shard.stop_index) if r[0] not in done]
        except (NotFound, InvalidArgument, FailedPrecondition) as exc:
            # The benchmark, its dataset or a function was removed while the job ran.
            raise PermanentJobError(exc.message) from None
        if done:
            log.info("eval shard resumed", extra={"fields": {"shard": job.id, "attempt": job.attempt, "stored": len(done), "left": len(rows)}})
        candidate = candidate_for(self.peers, run.benchmark_config.eval_candidate, self.settings.inference_timeout_s)
        gate = asyncio.Semaphore(self.settings.shards.row_concurrency)
        total = shard.stop_index - shard.start_index

        async def one(index: int, row: dict[str, Any]) -> None:
            async with gate:
                if job.cancel_requested.is_set():
                    return
                await writer.add(await evaluate_row(candidate, self.scorer, plan.plans, row, index, "rows", keep_refusals=True))
                await job.progress(len(done) + writer.written, total)

        try:
            async with RowWriter(self.rows, parent.id, job.attempt) as writer:
                await asyncio.gather(*(one(index, row) for index, row in rows))
        finally:
            await candidate.close()
        return {"rows": len(done) + writer.written}

    async def failed(self, job: JobContext, error: BaseException) -> None:
        return None  # the coordinator sees the failed shard and fails the job

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        return None


class Evaluations:
    """Evaluation jobs as the API sees them: run, look up, list, cancel, results."""

    def __init__(
        self, queue: JobQueue, rows: EvalRows, benchmarks: Benchmarks, datasets: DatasetStore, scorer: Scorer, peers: Peers, settings: Settings
    ) -> None:
        self.queue = queue
        self.rows = rows
        self.benchmarks = benchmarks
        self.datasets = datasets
        self.scorer = scorer
        self.peers = peers
        self.settings = settings
        self.run_kind = settings.runs.kind(RUN_KIND)

    async def run(self, benchmark_id: str, config: Any) -> JobRecord:
        plan = await resolve(self.benchmarks, self.scorer, benchmark_id, config)
        candidate = candidate_for(self.peers, config.eval_candidate, self.settings.inference_timeout_s)
        await candidate.check()
        dataset = await self.datasets.get(plan.benchmark.dataset_id, "benchmark_id")
        if config.HasField("num_examples") and config.num_examples < 1:
            raise InvalidArgument(f"`num_examples` must be at least 1, got {config.num_examples}", param="benchmark_config.num_examples")
        row_count = min(config.num_examples, dataset.row_count) if config.HasField("num_examples") else dataset.row_count
        if row_count == 0:
            raise FailedPrecondition(f"dataset `{dataset.id}` of benchmark `{benchmark_id}` has no rows", param="benchmark_id")
        payload = pb.EvalRunJob(benchmark_id=benchmark_id, benchmark_config=config, row_count=row_count)
        for scoring in plan.plans:
            json_format.ParseDict(scoring.params.model_dump(exclude_none=True), payload.scoring[scoring.id])
        return await self.queue.submit(
            self.run_kind, f"eval-{uuid.uuid4().hex}", payload, metadata={"benchmark_id": benchmark_id}, total=row_count
        )

    async def get(self, benchmark_id: str, job_id: str, action: Action = Action.READ) -> JobRecord:
        """The benchmark's job, if the caller may do `action` to it (else not found)."""
        record = await self.queue.store.get(job_id, kind=RUN_KIND, action=action)
        if record.metadata.get("benchmark_id") != benchmark_id:
            raise NotFound(f"job `{job_id}` not found on benchmark `{benchmark_id}`", param="job_id")
        return record

    async def list(self, benchmark_id: str) -> list[JobRecord]:
        await self.benchmarks.get(benchmark_id)
        page = await self.queue.store.list(RUN_KIND, metadata={"benchmark_id": benchmark_id}, limit=1000)
        return page.items

    async def cancel(self, benchmark_id: str, job_id: str) -> JobRecord:
        await self.get(benchmark_id, job_id, Action.WRITE)
        return await self.queue.cancel(self.run_kind, job_id)

    async def result(self, benchmark_id: str, job_id: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        record = await self.get(benchmark_id, job_id)
        record.require_completed()
        results = await self.rows.all(job_id)
        aggregated = (record.result or {}).get("aggregated_results", {})
        scores = {
            fn_id: {"score_rows": [row.scores[fn_id] for row in results], "aggregated_results": aggregated[fn_id]}
            for fn_id in aggregated
        }
        return [row.generation for row in results], scores

    async def evaluate_rows(self, benchmark_id: str, rows: list[dict[str, Any]], scoring_functions: list[str], config: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Evaluates rows in the request (no job): for a handful of rows and quick checks."""
        if not rows:
            raise InvalidArgument("`input_rows` must hold at least one row", param="input_rows")
        if len(rows) > self.settings.max_sync_rows:
            raise InvalidArgument(
                f"`input_rows` holds {len(rows)} rows; at most {self.settings.max_sync_rows} are evaluated in one request, "
                "run an evaluation job for more",
                param="input_rows",
            )
        benchmark = await self.benchmarks.get(benchmark_id)
        overrides = {fn_id: plain(params) for fn_id, params in config.scoring_params.items()}
        names = scoring_functions or benchmark.scoring_functions
        plans = await self.scorer.plan({fn_id: overrides.get(fn_id) for fn_id in names}, "scoring_functions")
        candidate = candidate_for(self.peers, config.eval_candidate, self.settings.inference_timeout_s)
        await candidate.check()
        gate = asyncio.Semaphore(self.settings.sync_concurrency)

        async def one(index: int, row: dict[str, Any]) -> Any:
            async with gate:
                return await evaluate_row(candidate, self.scorer, plans, row, index, "input_rows", keep_refusals=False)

        try:
            results = await asyncio.gather(*(one(i, row) for i, row in enumerate(rows)))
        finally:
            await candidate.close()
        per_fn = {plan.id: [r.scores[plan.id] for r in results] for plan in plans}
        return [r.generation for r in results], self.scorer.results(plans, per_fn)
