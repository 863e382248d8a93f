"""gRPC servicers of Llama Stack's scoring-functions and scoring APIs."""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2, json_format

from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from stackmesh.eval.v1 import scoring_pb2
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.protojson import plain, whole_numbers
from stackmesh_common.resources import Resource
from stackmesh_eval.datasets.catalog import Datasets, MAX_PAGE_ROWS
from stackmesh_eval.datasets_servicer import rows_of
from stackmesh_eval.scorer import Scorer, scoring_row
from stackmesh_eval.scoring.builtins import ScoringFnDef
from stackmesh_eval.scoring_functions import ScoringFunctions
from stackmesh_eval.settings import Settings


def fn_proto(fn: ScoringFnDef, resource: Resource) -> scoring_pb2.ScoringFn:
    message = scoring_pb2.ScoringFn(
        identifier=fn.identifier,
        provider_resource_id=resource.provider_resource_id,
        provider_id=fn.provider_id,
        type="scoring_function",
        description=fn.description,
        return_type=scoring_pb2.ParamType(type=fn.return_type),
    )
    message.metadata.SetInParent()  # {} as Llama Stack answers
    if fn.params is not None:
        json_format.ParseDict(fn.params.model_dump(exclude_none=True), message.params)
    return message


def results_proto(results: dict[str, dict[str, Any]]) -> dict[str, scoring_pb2.ScoringResult]:
    converted = {}
    for fn_id, result in results.items():
        message = scoring_pb2.ScoringResult()
        for score_row in result["score_rows"]:
            message.score_rows.add().update(score_row)
        message.aggregated_results.update(result["aggregated_results"])
        converted[fn_id] = message
    return converted


def requested_functions(struct: Any) -> dict[str, Any]:
    return whole_numbers(plain(struct))


class ScoringFunctionsServicer(pb_grpc.ScoringFunctionsServiceServicer):
    def __init__(self, functions: ScoringFunctions) -> None:
        self.functions = functions

    async def ListScoringFunctions(self, request: pb.ListScoringFunctionsRequest, context: Any) -> pb.ListScoringFunctionsResponse:
        return pb.ListScoringFunctionsResponse(data=[fn_proto(fn, r) for fn, r in await self.functions.list()])

    async def RegisterScoringFunction(self, request: pb.RegisterScoringFunctionRequest, context: Any) -> empty_pb2.Empty:
        params = plain(request.params) if request.HasField("params") else None
        await self.functions.register(
            request.scoring_fn_id,
            request.description,
            request.return_type.type,
            request.provider_id if request.HasField("provider_id") else "",
            request.provider_scoring_fn_id if request.HasField("provider_scoring_fn_id") else "",
            params,
        )
        return empty_pb2.Empty()

    async def GetScoringFunction(self, request: pb.GetScoringFunctionRequest, context: Any) -> scoring_pb2.ScoringFn:
        return fn_proto(*await self.functions.get(request.scoring_fn_id))

    async def UnregisterScoringFunction(self, request: pb.UnregisterScoringFunctionRequest, context: Any) -> empty_pb2.Empty:
        await self.functions.unregister(request.scoring_fn_id)
        return empty_pb2.Empty()


class ScoringServicer(pb_grpc.ScoringServiceServicer):
    def __init__(self, scorer: Scorer, datasets: Datasets, settings: Settings) -> None:
        self.scorer = scorer
        self.datasets = datasets
        self.settings = settings

    async def _score(self, rows: list[dict[str, Any]], requested: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
        plans = await self.scorer.plan(requested, "scoring_functions")
        rows = [scoring_row(row) for row in rows]
        self.scorer.check(plans, rows, where)
        per_fn = await self.scorer.score(plans, rows, self.settings.sync_concurrency)
        return self.scorer.results(plans, per_fn)

    async def Score(self, request: pb.ScoreRequest, context: Any) -> pb.ScoreResponse:
        if not request.input_rows:
            raise InvalidArgument("`input_rows` must hold at least one row", param="input_rows")
        if len(request.input_rows) > self.settings.max_sync_rows:
            raise InvalidArgument(
                f"`input_rows` holds {len(request.input_rows)} rows; at most {self.settings.max_sync_rows} are scored in one "
                "request, register them as a dataset and use score-batch",
                param="input_rows",
            )
        results = await self._score(rows_of(request.input_rows), requested_functions(request.scoring_functions), "input_rows")
        return pb.ScoreResponse(results=results_proto(results))

    async def ScoreBatch(self, request: pb.ScoreBatchRequest, context: Any) -> pb.ScoreBatchResponse:
        record = await self.datasets.store.get(request.dataset_id)
        if record.row_count > self.settings.max_sync_rows:
            raise InvalidArgument(
                f"dataset `{record.id}` has {record.row_count} rows; score-batch scores at most {self.settings.max_sync_rows} "
                "(services.eval.settings.max_sync_rows)",
                param="dataset_id",
            )
        rows = []
        for start in range(0, record.row_count, MAX_PAGE_ROWS):
            rows += [row for _, row in await self.datasets.store.rows(record.id, start, start + MAX_PAGE_ROWS)]
        results = await self._score(rows, requested_functions(request.scoring_functions), "rows")
        reply = pb.ScoreBatchResponse(results=results_proto(results))
        if request.save_results_dataset:
            reply.dataset_id = await self._save(record.id, record.purpose, rows, results)
        return reply

    async def _save(self, dataset_id: str, purpose: str, rows: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> str:
        """The scored rows as a new dataset: each row with its score under each function."""
        scored = []
        for index, row in enumerate(rows):
            scored.append({**row, **{fn_id: result["score_rows"][index] for fn_id, result in results.items()}})
        saved = await self.datasets.register(
            purpose, {"type": "rows", "rows": scored}, {"scored_from": dataset_id, "scoring_functions": list(results)}, None
        )
        return saved.id

