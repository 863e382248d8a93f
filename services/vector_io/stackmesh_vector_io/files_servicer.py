"""gRPC servicer of the Files API: streamed uploads (multipart or typed), list, get, content, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.api import httpbody_pb2

from stackmesh.vector_io.v1 import file_pb2
from stackmesh.vector_io.v1 import files_service_pb2 as pb
from stackmesh.vector_io.v1 import files_service_pb2_grpc as pb_grpc
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, PayloadTooLarge
from stackmesh_vector_io.files import FileRecord, FileRepository, NewFile, check_new_file, new_file_id
from stackmesh_vector_io.multipart import MultipartUpload
from stackmesh_vector_io.objects import ObjectStore

DEFAULT_CONTENT_TYPE = "application/octet-stream"


def file_to_proto(record: FileRecord) -> file_pb2.File:
    return file_pb2.File(
        id=record.id,
        object="file",
        bytes=record.bytes,
        created_at=record.created_at,
        expires_at=record.expires_at,
        filename=record.filename,
        purpose=record.purpose,
        status="processed",
    )


def _int_field(fields: dict[str, str], name: str) -> int | None:
    if name not in fields:
        return None
    try:
        return int(fields[name])
    except ValueError:
        raise InvalidArgument(f"`{name}` must be an integer, got {fields[name]!r}", param=name) from None


class FilesServicer(pb_grpc.FilesServiceServicer):
    def __init__(
        self,
        files: FileRepository,
        objects: ObjectStore,
        max_upload_bytes: int,
        on_delete: Callable[[str], Awaitable[None]],
    ) -> None:
        self.files = files
        self.objects = objects
        self.max_upload_bytes = max_upload_bytes
        # Detaches a deleted file from every vector store.
        self.on_delete = on_delete

    async def UploadFileHttp(self, request_iterator: AsyncIterator[httpbody_pb2.HttpBody], context: Any) -> file_pb2.File:
        file_id = new_file_id()
        upload: MultipartUpload | None = None
        try:
            async for body in request_iterator:
                if upload is None:
                    upload = MultipartUpload(body.content_type, lambda: self.objects.writer(file_id), self.max_upload_bytes)
                await upload.feed(body.data)
            if upload is None:
                raise InvalidArgument("the upload has no body; send multipart/form-data", param="file")
            uploaded = await upload.finish()
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise
        fields = upload.fields
        try:
            new = check_new_file(
                uploaded.filename,
                fields.get("purpose", ""),
                uploaded.content_type or DEFAULT_CONTENT_TYPE,
                fields.get("expires_after[anchor]"),
                _int_field(fields, "expires_after[seconds]"),
            )
        except InvalidArgument:
            await self.objects.delete(file_id)
            raise
        return file_to_proto(await self._record(file_id, new, uploaded.size, context))

    async def UploadFile(self, request_iterator: AsyncIterator[pb.UploadFileRequest], context: Any) -> file_pb2.File:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("payload") != "metadata":
            raise InvalidArgument("the first message of an upload carries its metadata", param="metadata")
        meta = first.metadata
        expiry = meta.expires_after if meta.HasField("expires_after") else None
        new = check_new_file(
            meta.filename,
            meta.purpose,
            meta.content_type or DEFAULT_CONTENT_TYPE,
            expiry.anchor if expiry else None,
            expiry.seconds if expiry else None,
        )
        file_id = new_file_id()
        writer = await self.objects.writer(file_id)
        size = 0
        try:
            async for message in request_iterator:
                if message.WhichOneof("payload") != "chunk":
                    raise InvalidArgument("only the first message of an upload carries metadata", param="metadata")
                size += len(message.chunk)
                if size > self.max_upload_bytes:
                    raise PayloadTooLarge(f"the file is over the {self.max_upload_bytes} byte upload limit", param="file")
                await writer.write(message.chunk)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        return file_to_proto(await self._record(file_id, new, size, context))

    async def _record(self, file_id: str, new: NewFile, size: int, context: Any) -> FileRecord:
        try:
            return await self.files.add(file_id, new, size)
        except BaseException:
            await self.objects.delete(file_id)
            raise

    async def ListFiles(self, request: pb.ListFilesRequest, context: Any) -> pb.ListFilesResponse:
        page = await self.files.list(
            request.after, request.limit if request.HasField("limit") else None, request.order, request.purpose
        )
        data = [file_to_proto(r) for r in page.items]
        return pb.ListFilesResponse(
            object="list",
            data=data,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
            has_more=page.has_more,
        )

    async def GetFile(self, request: pb.GetFileRequest, context: Any) -> file_pb2.File:
        return file_to_proto(await self.files.get(request.file_id, Action.READ))

    async def DeleteFile(self, request: pb.DeleteFileRequest, context: Any) -> pb.DeleteFileResponse:
        record = await self.files.delete(request.file_id)
        await self.on_delete(record.id)
        return pb.DeleteFileResponse(id=record.id, object="file", deleted=True)

    async def RetrieveFileContent(
        self, request: pb.RetrieveFileContentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        record = await self.files.get(request.file_id, Action.READ)
        content_type = record.content_type or DEFAULT_CONTENT_TYPE
        first = True
        async for chunk in self.objects.read_chunks(record.object_key):
            yield httpbody_pb2.HttpBody(content_type=content_type if first else "", data=chunk)
            first = False
        if first:
            yield httpbody_pb2.HttpBody(content_type=content_type, data=b"")
