"""gRPC servicer of Llama Stack's raw vector IO: insert embedded chunks, query them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
from google.protobuf import empty_pb2

from stackmesh.vector_io.v1 import vector_io_service_pb2 as pb
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.protojson import plain
from stackmesh_vector_io import convert
from stackmesh_vector_io.characters import check_free_json
from stackmesh_vector_io.filters import is_scalar
from stackmesh_vector_io.providers.base import StoredChunk
from stackmesh_vector_io.search import options, query_text, search
from stackmesh_vector_io.service import VectorIOService

MAX_CHUNKS = 100
# Chunk ids derived from document and content, so inserting the same chunk twice replaces it.
_CHUNK_NAMESPACE = uuid.UUID("5d0b7a1e-8f40-4a2f-9c3e-0e7ad7c1b6a1")


def _text(content: Any, param: str) -> str:
    """The text of Llama Stack content: a string, a {type: text, text} item or a list of items."""
    items = content if isinstance(content, list) else [content]
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif isinstance(item, dict) and item.get("type") == "image":
            raise InvalidArgument(f"`{param}` has an image; this service embeds text only", param=param)
        else:
            raise InvalidArgument(f"`{param}` must be a string, a text item or a list of them", param=param)
    text = "\n".join(texts)
    if not text.strip():
        raise InvalidArgument(f"`{param}` has no text", param=param)
    check_free_json(content, param)
    return text


def _ranker(params: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """Llama Stack's `ranker`: a name, or {type: rrf, impact_factor} | {type: weighted, alpha}."""
    ranker = params.get("ranker") or ""
    if isinstance(ranker, dict):
        return str(ranker.get("type", "")), ranker.get("alpha"), ranker.get("impact_factor")
    if not isinstance(ranker, str):
        raise InvalidArgument("`params.ranker` must be a name or an object with a `type`", param="params.ranker")
    return ranker, params.get("alpha"), params.get("impact_factor")


class VectorIOServicer(pb_grpc.VectorIOServiceServicer):
    def __init__(self, service: VectorIOService) -> None:
        self.svc = service

    async def InsertChunks(self, request: pb.InsertChunksRequest, context: Any) -> empty_pb2.Empty:
        store = await self.svc.stores.get_store(request.vector_store_id or request.vector_db_id, Action.WRITE)
        if not request.chunks:
            raise InvalidArgument("`chunks` must be a non-empty list", param="chunks")
        expires_at = int(time.time()) + request.ttl_seconds if request.HasField("ttl_seconds") else None
        texts, missing = [], []
        for index, chunk in enumerate(request.chunks):
            texts.append(_text(plain(chunk.content), f"chunks[{index}].content"))
            if not chunk.embedding:
                missing.append(index)
            elif len(chunk.embedding) != store.embedding_dimension:
                raise InvalidArgument(
                    f"`chunks[{index}].embedding` has {len(chunk.embedding)} dimensions; the store's are {store.embedding_dimension}",
                    param=f"chunks[{index}].embedding",
                )
        computed = iter(
            await self.svc.embedder.embed(store.embedding_model, [texts[i] for i in missing], store.embedding_dimension)
            if missing
            else []
        )
        chunks = []
        for index, (chunk, text) in enumerate(zip(request.chunks, texts)):
            metadata = check_free_json(plain(chunk.metadata), f"chunks[{index}].metadata")
            chunk_metadata = check_free_json(plain(chunk.chunk_metadata), f"chunks[{index}].chunk_metadata")
            document = str(metadata.get("document_id") or chunk_metadata.get("document_id") or "")
            chunk_id = chunk.chunk_id or chunk.stored_chunk_id or str(uuid.uuid5(_CHUNK_NAMESPACE, f"{document}\0{text}"))
            chunks.append(
                StoredChunk(
                    chunk_id=chunk_id,
                    file_id="",
                    position=index,
                    text=text,
                    embedding=np.asarray(chunk.embedding, dtype=np.float32) if chunk.embedding else next(computed),
                    content=plain(chunk.content),
                    metadata=metadata,
                    chunk_metadata={**chunk_metadata, "chunk_id": chunk_id},
                    # Raw chunks have no file; filters apply to their scalar metadata instead.
                    attributes={k: v for k, v in metadata.items() if is_scalar(v)},
                    expires_at=expires_at,
                )
            )
        await self.svc.provider(store.provider_id).insert_chunks(store.id, chunks)
        return empty_pb2.Empty()

    async def QueryChunks(self, request: pb.QueryChunksRequest, context: Any) -> pb.QueryChunksResponse:
        store = await self.svc.stores.get_store(request.vector_store_id or request.vector_db_id, Action.READ)
        query = _text(plain(request.query) if request.HasField("query") else None, "query")
        params = plain(request.params)
        ranker, alpha, impact_factor = _ranker(params)
        max_chunks = params.get("max_chunks")
        if max_chunks is not None and (not isinstance(max_chunks, (int, float)) or max_chunks != int(max_chunks)):
            raise InvalidArgument("`params.max_chunks` must be an integer", param="params.max_chunks")
        opts = options(
            str(params.get("mode") or "vector"),
            None if max_chunks is None else int(max_chunks),
            MAX_CHUNKS,
            params.get("filters"),
            ranker,
            params.get("score_threshold"),
            alpha,
            impact_factor,
            max_param="params.max_chunks",
        )
        hits = await search(self.svc.provider(store.provider_id), store, self.svc.embedder, query_text(query), opts)
        return pb.QueryChunksResponse(
            chunks=[convert.raw_chunk(h.chunk, store.embedding_model, store.embedding_dimension) for h in hits],
            scores=[h.score for h in hits],
        )
