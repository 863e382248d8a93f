"""Vector stores as peers call them: look-up and search (the agents' file_search tool)."""

from __future__ import annotations

import grpc

from stackmesh.vector_io.v1 import vector_io_service_pb2 as pb
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh.vector_io.v1 import vector_store_pb2
from stackmesh_common.errors import StackmeshError
from stackmesh_common.peers.errors import peer_error

PEER = "vector_io"


class VectorIOClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stores = pb_grpc.VectorStoresServiceStub(channel)

    async def get_vector_store(self, vector_store_id: str, *, timeout_s: float, param: str | None = None) -> vector_store_pb2.VectorStore:
        try:
            return await self._stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=vector_store_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"looking up vector store `{vector_store_id}`", param=param) from None

    async def search(
        self,
        request: pb.SearchVectorStoreRequest,
        *,
        timeout_s: float,
        refused_as: type[StackmeshError] | None = None,
        param: str | None = None,
    ) -> pb.SearchVectorStoreResponse:
        try:
            return await self._stores.SearchVectorStore(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(
                exc, PEER, f"searching vector store `{request.vector_store_id}`", refused_as=refused_as, param=param
            ) from None
