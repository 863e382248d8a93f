"""gRPC servicers of Llama Stack's benchmarks and eval APIs (/v1alpha/eval)."""

from __future__ import annotations

from typing import Any, AsyncIterator

from google.protobuf import empty_pb2

from stackmesh.common.v1 import job_pb2
from stackmesh.eval.v1 import benchmark_pb2
from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from stackmesh_common.jobs import JobRecord
from stackmesh_common.protojson import plain, whole_numbers
from stackmesh_eval.benchmarks import Benchmark, Benchmarks
from stackmesh_eval.datasets_servicer import rows_of
from stackmesh_eval.eval_jobs import Evaluations
from stackmesh_eval.scoring_servicer import results_proto


def benchmark_proto(benchmark: Benchmark) -> benchmark_pb2.Benchmark:
    message = benchmark_pb2.Benchmark(
        identifier=benchmark.id,
        provider_resource_id=benchmark.provider_resource_id or benchmark.id,
        provider_id=benchmark.provider_id,
        type="benchmark",
        dataset_id=benchmark.dataset_id,
        scoring_functions=benchmark.scoring_functions,
    )
    message.metadata.SetInParent()  # {} when empty, as Llama Stack answers
    message.metadata.update(benchmark.metadata)
    return message


def job_proto(record: JobRecord) -> benchmark_pb2.EvalJob:
    return benchmark_pb2.EvalJob(job_id=record.id, status=record.state, job=record.to_proto())


class BenchmarksServicer(pb_grpc.BenchmarksServiceServicer):
    def __init__(self, benchmarks: Benchmarks) -> None:
        self.benchmarks = benchmarks

    async def ListBenchmarks(self, request: pb.ListBenchmarksRequest, context: Any) -> pb.ListBenchmarksResponse:
        return pb.ListBenchmarksResponse(data=[benchmark_proto(b) for b in await self.benchmarks.list()])

    async def RegisterBenchmark(self, request: pb.RegisterBenchmarkRequest, context: Any) -> empty_pb2.Empty:
        await self.benchmarks.register(
            Benchmark(
                request.benchmark_id,
                request.dataset_id,
                list(request.scoring_functions),
                whole_numbers(plain(request.metadata)),
                request.provider_id if request.HasField("provider_id") else "",
                request.provider_benchmark_id if request.HasField("provider_benchmark_id") else "",
            )
        )
        return empty_pb2.Empty()

    async def GetBenchmark(self, request: pb.GetBenchmarkRequest, context: Any) -> benchmark_pb2.Benchmark:
        return benchmark_proto(await self.benchmarks.get(request.benchmark_id))

    async def UnregisterBenchmark(self, request: pb.UnregisterBenchmarkRequest, context: Any) -> empty_pb2.Empty:
        await self.benchmarks.unregister(request.benchmark_id)
        return empty_pb2.Empty()


class EvalServicer(pb_grpc.EvalServiceServicer):
    def __init__(self, evaluations: Evaluations) -> None:
        self.evaluations = evaluations

    async def RunEval(self, request: pb.RunEvalRequest, context: Any) -> benchmark_pb2.EvalJob:
        return job_proto(await self.evaluations.run(request.benchmark_id, request.benchmark_config))

    async def ListEvalJobs(self, request: pb.ListEvalJobsRequest, context: Any) -> pb.ListEvalJobsResponse:
        return pb.ListEvalJobsResponse(data=[job_proto(r) for r in await self.evaluations.list(request.benchmark_id)])

    async def GetEvalJob(self, request: pb.GetEvalJobRequest, context: Any) -> benchmark_pb2.EvalJob:
        return job_proto(await self.evaluations.get(request.benchmark_id, request.job_id))

    async def CancelEvalJob(self, request: pb.CancelEvalJobRequest, context: Any) -> empty_pb2.Empty:
        await self.evaluations.cancel(request.benchmark_id, request.job_id)
        return empty_pb2.Empty()

    async def GetEvalJobResult(self, request: pb.GetEvalJobResultRequest, context: Any) -> pb.EvaluateResponse:
        generations, scores = await self.evaluations.result(request.benchmark_id, request.job_id)
        return _evaluate_response(generations, scores)

    async def WatchEvalJob(self, request: pb.WatchEvalJobRequest, context: Any) -> AsyncIterator[job_pb2.Job]:
        await self.evaluations.get(request.benchmark_id, request.job_id)
        async for record in self.evaluations.queue.store.watch(request.job_id):
            yield record.to_proto()

    async def EvaluateRows(self, request: pb.EvaluateRowsRequest, context: Any) -> pb.EvaluateResponse:
        generations, scores = await self.evaluations.evaluate_rows(
            request.benchmark_id, rows_of(request.input_rows), list(request.scoring_functions), request.benchmark_config
        )
        return _evaluate_response(generations, scores)


def _evaluate_response(generations: list[dict[str, Any]], scores: dict[str, dict[str, Any]]) -> pb.EvaluateResponse:
    response = pb.EvaluateResponse(scores=results_proto(scores))
    for generation in generations:
        response.generations.add().update(generation)
    return response
