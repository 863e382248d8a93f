"""gRPC servicers of Llama Stack's datasets and datasetio APIs (/v1beta)."""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2

from stackmesh.eval.v1 import dataset_pb2
from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from stackmesh_common.protojson import plain, whole_numbers
from stackmesh_eval.datasets.catalog import Datasets
from stackmesh_eval.datasets.store import DatasetRecord


def rows_of(structs: Any) -> list[dict[str, Any]]:
    """Rows as the caller wrote them (Struct keeps every number as a double: 3 is 3, not 3.0)."""
    return [whole_numbers(plain(struct)) for struct in structs]


def dataset_proto(record: DatasetRecord) -> dataset_pb2.Dataset:
    dataset = dataset_pb2.Dataset(
        identifier=record.id,
        provider_resource_id=record.id,
        provider_id=record.provider_id,
        type="dataset",
        purpose=record.purpose,
        source=dataset_pb2.DataSource(**record.source),
    )
    dataset.metadata.SetInParent()  # {} when empty, as Llama Stack answers
    dataset.metadata.update(record.metadata)
    return dataset


class DatasetsServicer(pb_grpc.DatasetsServiceServicer):
    def __init__(self, datasets: Datasets) -> None:
        self.datasets = datasets

    async def RegisterDataset(self, request: pb.RegisterDatasetRequest, context: Any) -> dataset_pb2.Dataset:
        source: dict[str, Any] = {"type": request.source.type}
        if request.source.HasField("uri"):
            source["uri"] = request.source.uri
        if request.source.rows:
            source["rows"] = rows_of(request.source.rows)
        metadata = whole_numbers(plain(request.metadata))
        dataset_id = request.dataset_id if request.HasField("dataset_id") else None
        return dataset_proto(await self.datasets.register(request.purpose, source, metadata, dataset_id))

    async def ListDatasets(self, request: pb.ListDatasetsRequest, context: Any) -> pb.ListDatasetsResponse:
        return pb.ListDatasetsResponse(data=[dataset_proto(r) for r in await self.datasets.store.list()])

    async def GetDataset(self, request: pb.GetDatasetRequest, context: Any) -> dataset_pb2.Dataset:
        return dataset_proto(await self.datasets.store.get(request.dataset_id))

    async def UnregisterDataset(self, request: pb.UnregisterDatasetRequest, context: Any) -> empty_pb2.Empty:
        await self.datasets.store.delete(request.dataset_id)
        return empty_pb2.Empty()


class DatasetIOServicer(pb_grpc.DatasetIOServiceServicer):
    def __init__(self, datasets: Datasets) -> None:
        self.datasets = datasets

    async def IterRows(self, request: pb.IterRowsRequest, context: Any) -> pb.IterRowsResponse:
        start = request.start_index if request.HasField("start_index") else None
        limit = request.limit if request.HasField("limit") else None
        rows, next_index = await self.datasets.page(request.dataset_id, start, limit)
        page = pb.IterRowsResponse(has_more=next_index is not None)
        for row in rows:
            page.data.add().update(row)
        if next_index is not None:
            page.next_start_index = next_index
        return page

    async def AppendRows(self, request: pb.AppendRowsRequest, context: Any) -> empty_pb2.Empty:
        await self.datasets.append(request.dataset_id, rows_of(request.rows))
        return empty_pb2.Empty()
