"""Records to the OpenAI-shaped protobuf messages of the vector stores and vector IO APIs."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from stackmesh.vector_io.v1 import vector_store_pb2 as vs_pb
from stackmesh_vector_io.providers.base import StoredChunk
from stackmesh_vector_io.stores import BatchRecord, FileCounts, StoreFileRecord, StoreRecord, StoreUsage


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def counts(file_counts: FileCounts) -> vs_pb.VectorStoreFileCounts:
    return vs_pb.VectorStoreFileCounts(
        completed=file_counts.completed,
        cancelled=file_counts.cancelled,
        failed=file_counts.failed,
        in_progress=file_counts.in_progress,
        total=file_counts.total,
    )


def store_status(record: StoreRecord, usage: StoreUsage) -> str:
    if record.expired:
        return "expired"
    return "in_progress" if usage.file_counts.in_progress else "completed"


def store(record: StoreRecord, usage: StoreUsage) -> vs_pb.VectorStore:
    message = vs_pb.VectorStore(
        id=record.id,
        object="vector_store",
        created_at=record.created_at,
        name=record.name,
        usage_bytes=usage.usage_bytes,
        file_counts=counts(usage.file_counts),
        status=store_status(record, usage),
        expires_at=record.expires_at,
        last_active_at=record.last_active_at,
        metadata=struct(record.metadata),
    )
    if record.expires_after_days:
        message.expires_after.CopyFrom(vs_pb.VectorStoreExpiresAfter(anchor="last_active_at", days=record.expires_after_days))
    return message


def strategy(chunking: dict[str, int]) -> vs_pb.ChunkingStrategy:
    return vs_pb.ChunkingStrategy(type="static", static=vs_pb.StaticChunkingConfig(**chunking))


def store_file(record: StoreFileRecord) -> vs_pb.VectorStoreFile:
    message = vs_pb.VectorStoreFile(
        id=record.file_id,
        object="vector_store.file",
        usage_bytes=record.usage_bytes,
        created_at=record.created_at,
        vector_store_id=record.vector_store_id,
        status=record.status,
        chunking_strategy=strategy(record.chunking),
        attributes=struct(record.attributes),
    )
    if record.status == "failed":
        message.last_error.CopyFrom(
            vs_pb.VectorStoreFileLastError(code=record.last_error_code or "server_error", message=record.last_error_message or "")
        )
    return message


def batch(record: BatchRecord) -> vs_pb.VectorStoreFileBatch:
    return vs_pb.VectorStoreFileBatch(
        id=record.id,
        object="vector_store.file_batch",
        created_at=record.created_at,
        vector_store_id=record.vector_store_id,
        status=record.status,
        file_counts=counts(record.file_counts),
    )


def chunk_metadata(values: dict[str, Any]) -> vs_pb.ChunkMetadata:
    return json_format.ParseDict(values, vs_pb.ChunkMetadata(), ignore_unknown_fields=True)


def content(chunk: StoredChunk, include_embedding: bool, include_metadata: bool) -> vs_pb.VectorStoreContent:
    message = vs_pb.VectorStoreContent(type="text", text=chunk.text)
    if include_embedding and chunk.embedding is not None:
        message.embedding.extend(chunk.embedding.tolist())
    if include_metadata:
        message.chunk_metadata.CopyFrom(chunk_metadata(chunk.chunk_metadata))
        message.metadata.CopyFrom(struct(chunk.metadata))
    return message


def raw_chunk(chunk: StoredChunk, model: str, dimension: int) -> vs_pb.Chunk:
    message = vs_pb.Chunk(
        chunk_id=chunk.chunk_id,
        metadata=struct(chunk.metadata),
        chunk_metadata=chunk_metadata(chunk.chunk_metadata),
        embedding_model=model,
        embedding_dimension=dimension,
    )
    json_format.ParseDict(chunk.text if chunk.content is None else chunk.content, message.content)
    return message
