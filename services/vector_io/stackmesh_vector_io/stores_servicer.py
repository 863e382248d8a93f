"""gRPC servicer of the OpenAI Vector Stores API: stores, their files and file batches, search."""

from __future__ import annotations

from typing import Any

import grpc

from stackmesh.vector_io.v1 import vector_io_service_pb2 as pb
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh.vector_io.v1 import vector_store_pb2 as vs_pb
from stackmesh_common.access import Action
from stackmesh_common.errors import FailedPrecondition, InvalidArgument
from stackmesh_common.protojson import plain
from stackmesh_vector_io import convert
from stackmesh_vector_io.characters import check_free_json, check_name, check_value
from stackmesh_vector_io.chunking import resolve
from stackmesh_vector_io.filters import check_attributes
from stackmesh_vector_io.search import options, query_text, search
from stackmesh_vector_io.service import VectorIOService
from stackmesh_vector_io.stores import Attachment, new_batch_id, new_store_id

MAX_METADATA_KEYS = 16
MAX_EXPIRY_DAYS = 365
MAX_BATCH_FILES = 2000
MAX_SEARCH_RESULTS = 50
# The openai SDK's create_and_poll helpers wait this long between polls (its default is 1 s).
POLL_AFTER_MS = "250"


def _metadata(message: Any) -> dict[str, Any]:
    metadata = plain(message)
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidArgument(f"`metadata` may have at most {MAX_METADATA_KEYS} keys, got {len(metadata)}", param="metadata")
    for key, value in metadata.items():
        # A bad key is named by its parent: the param is echoed back.
        check_name(key, "metadata", "keys of `metadata`")
        check_free_json(value, f"metadata.{key}")
    return metadata


def _expiry_days(expires_after: vs_pb.VectorStoreExpiresAfter) -> int:
    if expires_after.anchor != "last_active_at":
        raise InvalidArgument("`expires_after.anchor` must be `last_active_at`", param="expires_after.anchor")
    if not 1 <= expires_after.days <= MAX_EXPIRY_DAYS:
        raise InvalidArgument(f"`expires_after.days` must be between 1 and {MAX_EXPIRY_DAYS}", param="expires_after.days")
    return expires_after.days


def _page(response_type: Any, items: list[Any], has_more: bool, key: str = "id") -> Any:
    return response_type(
        object="list",
        data=items,
        first_id=getattr(items[0], key) if items else None,
        last_id=getattr(items[-1], key) if items else None,
        has_more=has_more,
    )


class VectorStoresServicer(pb_grpc.VectorStoresServiceServicer):
    def __init__(self, service: VectorIOService) -> None:
        self.svc = service

    # Stores.

    async def CreateVectorStore(self, request: pb.CreateVectorStoreRequest, context: Any) -> vs_pb.VectorStore:
        svc = self.svc
        provider_id = request.provider_id or svc.default_provider_id
        provider = svc.provider(provider_id)
        model = await svc.model(request.embedding_model or svc.settings.default_embedding_model)
        dimension = model.dimension
        if request.HasField("embedding_dimension"):
            if not 1 <= request.embedding_dimension <= model.dimension:
                raise InvalidArgument(
                    f"`embedding_dimension` must be between 1 and {model.dimension} (the dimension of `{model.id}`)",
                    param="embedding_dimension",
                )
            dimension = request.embedding_dimension
        metadata = _metadata(request.metadata)
        name = check_value(request.name, "name") or None
        days = _expiry_days(request.expires_after) if request.HasField("expires_after") else None
        chunking = resolve(request.chunking_strategy if request.HasField("chunking_strategy") else None, model.context_length)
        await svc.files_exist(list(request.file_ids))
        store_id = new_store_id()
        await provider.create_store(store_id, dimension)
        try:
            record = await svc.stores.create_store(store_id, name, provider_id, model.id, dimension, metadata, days)
        except BaseException:
            await provider.delete_store(store_id)
            raise
        if request.file_ids:
            await svc.attach(store_id, [Attachment(f, {}, chunking.as_dict()) for f in dict.fromkeys(request.file_ids)], None)
        return convert.store(*await svc.stores.get_store_with_usage(record.id))

    async def ListVectorStores(self, request: pb.ListVectorStoresRequest, context: Any) -> pb.ListVectorStoresResponse:
        page = await self.svc.stores.list_stores(
            request.limit if request.HasField("limit") else None, request.order, request.after, request.before
        )
        return _page(pb.ListVectorStoresResponse, [convert.store(*item) for item in page.items], page.has_more)

    async def GetVectorStore(self, request: pb.GetVectorStoreRequest, context: Any) -> vs_pb.VectorStore:
        return convert.store(*await self.svc.stores.get_store_with_usage(request.vector_store_id, Action.READ))

    async def UpdateVectorStore(self, request: pb.UpdateVectorStoreRequest, context: Any) -> vs_pb.VectorStore:
        days = _expiry_days(request.expires_after) if request.HasField("expires_after") else None
        metadata = _metadata(request.metadata) if request.HasField("metadata") else None
        name = check_value(request.name, "name") if request.HasField("name") else None
        record = await self.svc.stores.update_store(request.vector_store_id, name, days, metadata)
        return convert.store(*await self.svc.stores.get_store_with_usage(record.id))

    async def DeleteVectorStore(self, request: pb.DeleteVectorStoreRequest, context: Any) -> pb.DeleteVectorStoreResponse:
        record = await self.svc.stores.get_store(request.vector_store_id, Action.WRITE)
        await self.svc.stores.delete_store(record.id)
        await self.svc.provider(record.provider_id).delete_store(record.id)
        return pb.DeleteVectorStoreResponse(id=record.id, object="vector_store.deleted", deleted=True)

    async def SearchVectorStore(self, request: pb.SearchVectorStoreRequest, context: Any) -> pb.SearchVectorStoreResponse:
        record = await self.svc.stores.get_store(request.vector_store_id, Action.READ)
        if record.expired:
            raise FailedPrecondition(f"vector store `{record.id}` has expired", param="vector_store_id")
        queries = query_text(plain(request.query) if request.HasField("query") else None)
        if request.rewrite_query:
            raise InvalidArgument("`rewrite_query` is not supported; send the query to search for", param="rewrite_query")
        ranking = request.ranking_options
        opts = options(
            request.search_mode,
            request.max_num_results if request.HasField("max_num_results") else None,
            MAX_SEARCH_RESULTS,
            plain(request.filters) if request.HasField("filters") else None,
            ranking.ranker,
            ranking.score_threshold if ranking.HasField("score_threshold") else None,
            ranking.alpha if ranking.HasField("alpha") else None,
            ranking.impact_factor if ranking.HasField("impact_factor") else None,
        )
        hits = await search(self.svc.provider(record.provider_id), record, self.svc.embedder, queries, opts)
        await self.svc.stores.touch_store(record)
        response = pb.SearchVectorStoreResponse(object="vector_store.search_results.page", search_query=queries, has_more=False)
        for hit in hits:
            response.data.add(
                file_id=hit.chunk.file_id,
                filename=str(hit.chunk.metadata.get("filename", "")),
                score=hit.score,
                attributes=convert.struct(hit.chunk.attributes),
                content=[vs_pb.VectorStoreContent(type="text", text=hit.chunk.text)],
            )
        return response

    # Files of a store.

    async def CreateVectorStoreFile(
        self, request: pb.CreateVectorStoreFileRequest, context: grpc.aio.ServicerContext
    ) -> vs_pb.VectorStoreFile:
        record = await self.svc.stores.get_store(request.vector_store_id, Action.WRITE)
        if not request.file_id:
            raise InvalidArgument("`file_id` is required", param="file_id")
        attributes = check_attributes(plain(request.attributes))
        chunking = await self.svc.chunking(record, request.chunking_strategy if request.HasField("chunking_strategy") else None)
        await self.svc.files_exist([request.file_id])
        [attached] = await self.svc.attach(record.id, [Attachment(request.file_id, attributes, chunking.as_dict())], None)
        settled = await self.svc.settled_file(attached, context.time_remaining())
        if settled.status == "in_progress":
            await context.send_initial_metadata((("openai-poll-after-ms", POLL_AFTER_MS),))
        return convert.store_file(settled)

    async def ListVectorStoreFiles(self, request: pb.ListVectorStoreFilesRequest, context: Any) -> pb.ListVectorStoreFilesResponse:
        await self.svc.stores.get_store(request.vector_store_id, Action.READ)
        page = await self.svc.stores.list_files(
            request.vector_store_id, request.limit if request.HasField("limit") else None, request.order,
            request.after, request.before, request.filter,
        )  # fmt: skip
        return _page(pb.ListVectorStoreFilesResponse, [convert.store_file(r) for r in page.items], page.has_more)

    async def GetVectorStoreFile(self, request: pb.GetVectorStoreFileRequest, context: grpc.aio.ServicerContext) -> vs_pb.VectorStoreFile:
        await self.svc.stores.get_store(request.vector_store_id, Action.READ)
        record = await self.svc.stores.get_file(request.vector_store_id, request.file_id)
        if record.status == "in_progress":
            await context.send_initial_metadata((("openai-poll-after-ms", POLL_AFTER_MS),))
        return convert.store_file(record)

    async def UpdateVectorStoreFile(self, request: pb.UpdateVectorStoreFileRequest, context: Any) -> vs_pb.VectorStoreFile:
        store = await self.svc.stores.get_store(request.vector_store_id, Action.WRITE)
        attributes = check_attributes(plain(request.attributes))
        record = await self.svc.stores.set_file_attributes(store.id, request.file_id, attributes)
        await self.svc.provider(store.provider_id).set_file_attributes(store.id, request.file_id, attributes)
        return convert.store_file(record)

    async def DeleteVectorStoreFile(self, request: pb.DeleteVectorStoreFileRequest, context: Any) -> pb.DeleteVectorStoreFileResponse:
        store = await self.svc.stores.get_store(request.vector_store_id, Action.WRITE)
        await self.svc.detach(store.id, store.provider_id, request.file_id)
        return pb.DeleteVectorStoreFileResponse(id=request.file_id, object="vector_store.file.deleted", deleted=True)

    async def RetrieveVectorStoreFileContent(
        self, request: pb.RetrieveVectorStoreFileContentRequest, context: Any
    ) -> pb.RetrieveVectorStoreFileContentResponse:
        store = await self.svc.stores.get_store(request.vector_store_id, Action.READ)
        record = await self.svc.stores.get_file(store.id, request.file_id)
        chunks = await self.svc.provider(store.provider_id).file_chunks(store.id, record.file_id)
        data = [convert.content(c, request.include_embeddings, request.include_metadata) for c in chunks]
        filename = str(chunks[0].metadata.get("filename", "")) if chunks else ""
        return pb.RetrieveVectorStoreFileContentResponse(
            object="vector_store.file_content.page",
            data=data,
            has_more=False,
            file_id=record.file_id,
            filename=filename,
            attributes=convert.struct(record.attributes),
            content=data,
        )

    # File batches.

    async def CreateVectorStoreFileBatch(
        self, request: pb.CreateVectorStoreFileBatchRequest, context: grpc.aio.ServicerContext
    ) -> vs_pb.VectorStoreFileBatch:
        record = await self.svc.stores.get_store(request.vector_store_id, Action.WRITE)
        if bool(request.file_ids) == bool(request.files):
            raise InvalidArgument("give exactly one of `file_ids` and `files`", param="file_ids")
        count = len(request.file_ids) or len(request.files)
        if count > MAX_BATCH_FILES:
            raise InvalidArgument(f"a batch takes at most {MAX_BATCH_FILES} files, got {count}", param="file_ids")
        if request.file_ids:
            attributes = check_attributes(plain(request.attributes))
            chunking = await self.svc.chunking(record, request.chunking_strategy if request.HasField("chunking_strategy") else None)
            attachments = [Attachment(f, attributes, chunking.as_dict()) for f in dict.fromkeys(request.file_ids)]
        else:
            attachments = []
            for index, item in enumerate(request.files):
                param = f"files[{index}]"
                if not item.file_id:
                    raise InvalidArgument(f"`{param}.file_id` is required", param=f"{param}.file_id")
                strategy = item.chunking_strategy if item.HasField("chunking_strategy") else None
                attachments.append(
                    Attachment(
                        item.file_id,
                        check_attributes(plain(item.attributes), f"{param}.attributes"),
                        (await self.svc.chunking(record, strategy, f"{param}.chunking_strategy")).as_dict(),
                    )
                )
            attachments = list({a.file_id: a for a in attachments}.values())
        await self.svc.files_exist([a.file_id for a in attachments])
        batch_id = new_batch_id()
        await self.svc.attach(record.id, attachments, batch_id)
        batch = await self.svc.settled_batch(record.id, batch_id, context.time_remaining())
        if batch.status == "in_progress":
            await context.send_initial_metadata((("openai-poll-after-ms", POLL_AFTER_MS),))
        return convert.batch(batch)

    async def GetVectorStoreFileBatch(self, request: pb.GetVectorStoreFileBatchRequest, context: Any) -> vs_pb.VectorStoreFileBatch:
        await self.svc.stores.get_store(request.vector_store_id, Action.READ)
        batch = await self.svc.stores.get_batch(request.vector_store_id, request.batch_id)
        if batch.status == "in_progress":
            await context.send_initial_metadata((("openai-poll-after-ms", POLL_AFTER_MS),))
        return convert.batch(batch)

    async def CancelVectorStoreFileBatch(
        self, request: pb.CancelVectorStoreFileBatchRequest, context: Any
    ) -> vs_pb.VectorStoreFileBatch:
        await self.svc.stores.get_store(request.vector_store_id, Action.WRITE)
        return convert.batch(await self.svc.stores.cancel_batch(request.vector_store_id, request.batch_id))

    async def ListVectorStoreFileBatchFiles(
        self, request: pb.ListVectorStoreFileBatchFilesRequest, context: Any
    ) -> pb.ListVectorStoreFilesResponse:
        await self.svc.stores.get_store(request.vector_store_id, Action.READ)
        await self.svc.stores.get_batch(request.vector_store_id, request.batch_id)
        page = await self.svc.stores.list_files(
            request.vector_store_id, request.limit if request.HasField("limit") else None, request.order,
            request.after, request.before, request.filter, batch_id=request.batch_id,
        )  # fmt: skip
        return _page(pb.ListVectorStoreFilesResponse, [convert.store_file(r) for r in page.items], page.has_more)
