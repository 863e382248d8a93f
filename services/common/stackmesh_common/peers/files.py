"""The Files API (served by the vector_io service) as peers call it: look up, read, write."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from stackmesh.vector_io.v1 import file_pb2
from stackmesh.vector_io.v1 import files_service_pb2 as pb
from stackmesh.vector_io.v1 import files_service_pb2_grpc as pb_grpc
from stackmesh_common.errors import StackmeshError
from stackmesh_common.peers.errors import peer_error

PEER = "vector_io"
# Upload chunk size: well under the gRPC message limit, large enough to be cheap.
UPLOAD_CHUNK_BYTES = 1024 * 1024


class FilesClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._files = pb_grpc.FilesServiceStub(channel)

    async def get(
        self, file_id: str, *, timeout_s: float, refused_as: type[StackmeshError] | None = None, param: str | None = None
    ) -> file_pb2.File:
        try:
            return await self._files.GetFile(pb.GetFileRequest(file_id=file_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"file `{file_id}`", refused_as=refused_as, param=param) from None

    async def read(
        self, file_id: str, *, timeout_s: float, refused_as: type[StackmeshError] | None = None, param: str | None = None
    ) -> bytes:
        """The file's whole content."""
        parts = []
        try:
            async for body in self._files.RetrieveFileContent(pb.RetrieveFileContentRequest(file_id=file_id), timeout=timeout_s):
                parts.append(body.data)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"content of file `{file_id}`", refused_as=refused_as, param=param) from None
        return b"".join(parts)

    async def upload(self, filename: str, purpose: str, data: bytes, *, content_type: str, timeout_s: float) -> file_pb2.File:
        async def messages() -> AsyncIterator[pb.UploadFileRequest]:
            yield pb.UploadFileRequest(
                metadata=pb.UploadFileMetadata(filename=filename, purpose=purpose, content_type=content_type)
            )
            for start in range(0, len(data), UPLOAD_CHUNK_BYTES):
                yield pb.UploadFileRequest(chunk=data[start : start + UPLOAD_CHUNK_BYTES])

        try:
            return await self._files.UploadFile(messages(), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"uploading `{filename}`") from None

    async def delete(self, file_id: str, *, timeout_s: float) -> None:
        try:
            await self._files.DeleteFile(pb.DeleteFileRequest(file_id=file_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise peer_error(exc, PEER, f"deleting file `{file_id}`") from None
