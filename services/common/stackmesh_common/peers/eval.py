"""The eval service as peers use it: look a dataset up, read its rows, write one; look a
scoring function up and score rows with it."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import struct_pb2

from stackmesh.eval.v1 import dataset_pb2
from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from stackmesh.eval.v1 import scoring_pb2
from stackmesh_common.errors import StackmeshError
from stackmesh_common.peers.errors import peer_error
from stackmesh_common.protojson import plain, whole_numbers

PEER = "eval"


class EvalClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._datasets = pb_grpc.DatasetsServiceStub(channel)
        self._rows = pb_grpc.DatasetIOServiceStub(channel)
        self._functions = pb_grpc.ScoringFunctionsServiceStub(channel)
        self._scoring = pb_grpc.ScoringServiceStub(channel)

    async def dataset(self, dataset_id: str, *, timeout_s: float, param: str) -> dataset_pb2.Dataset:
        try:
            return await self._datasets.GetDataset(pb.GetDatasetRequest(dataset_id=dataset_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"dataset `{dataset_id}`", param=param) from None

    async def rows(self, dataset_id: str, *, timeout_s: float, limit: int) -> list[dict[str, Any]]:
        """Every row of the dataset, page by page; past `limit` rows, the first `limit`."""
        rows: list[dict[str, Any]] = []
        start = 0
        try:
            while len(rows) < limit:
                page = await self._rows.IterRows(
                    pb.IterRowsRequest(dataset_id=dataset_id, start_index=start, limit=min(limit - len(rows), 10_000)), timeout=timeout_s
                )
                rows += [whole_numbers(plain(row)) for row in page.data]
                if not page.has_more:
                    break
                start = page.next_start_index
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"rows of dataset `{dataset_id}`") from None
        return rows

    async def register_dataset(
        self,
        purpose: str,
        rows: list[dict[str, Any]],
        metadata: dict[str, Any],
        *,
        timeout_s: float,
        refused_as: type[StackmeshError] | None = None,
        dataset_id: str | None = None,
    ) -> dataset_pb2.Dataset:
        """A new dataset of `rows`, under `dataset_id` (generated when None)."""
        request = pb.RegisterDatasetRequest(purpose=purpose, source=dataset_pb2.DataSource(type="rows"), dataset_id=dataset_id)
        for row in rows:
            struct = struct_pb2.Struct()
            struct.update(row)
            request.source.rows.append(struct)
        request.metadata.update(metadata)
        try:
            return await self._datasets.RegisterDataset(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, "registering a dataset", refused_as=refused_as) from None

    async def scoring_function(self, fn_id: str, *, timeout_s: float, param: str) -> scoring_pb2.ScoringFn:
        try:
            return await self._functions.GetScoringFunction(pb.GetScoringFunctionRequest(scoring_fn_id=fn_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"scoring function `{fn_id}`", param=param) from None

    async def score(self, rows: list[dict[str, Any]], functions: dict[str, dict[str, Any] | None], *, timeout_s: float) -> dict[str, list[dict[str, Any]]]:
        """Each function's score rows ({"score": …, …}), one per row, in order; `functions`
        maps a function id to its ScoringFnParams JSON (None: its defaults)."""
        request = pb.ScoreRequest()
        for row in rows:
            request.input_rows.add().update(row)
        request.scoring_functions.update(functions)
        try:
            response = await self._scoring.Score(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"scoring with {', '.join(functions)}") from None
        return {fn_id: [whole_numbers(plain(row)) for row in result.score_rows] for fn_id, result in response.results.items()}
