from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VectorStore(_message.Message):
    __slots__ = ("id", "object", "created_at", "name", "usage_bytes", "file_counts", "status", "expires_after", "expires_at", "last_active_at", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: int
    name: str
    usage_bytes: int
    file_counts: VectorStoreFileCounts
    status: str
    expires_after: VectorStoreExpiresAfter
    expires_at: int
    last_active_at: int
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., name: _Optional[str] = ..., usage_bytes: _Optional[int] = ..., file_counts: _Optional[_Union[VectorStoreFileCounts, _Mapping]] = ..., status: _Optional[str] = ..., expires_after: _Optional[_Union[VectorStoreExpiresAfter, _Mapping]] = ..., expires_at: _Optional[int] = ..., last_active_at: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class VectorStoreExpiresAfter(_message.Message):
    __slots__ = ("anchor", "days")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    anchor: str
    days: int
    def __init__(self, anchor: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class VectorStoreFileCounts(_message.Message):
    __slots__ = ("completed", "cancelled", "failed", "in_progress", "total")
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    completed: int
    cancelled: int
    failed: int
    in_progress: int
    total: int
    def __init__(self, completed: _Optional[int] = ..., cancelled: _Optional[int] = ..., failed: _Optional[int] = ..., in_progress: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class VectorStoreFile(_message.Message):
    __slots__ = ("id", "object", "usage_bytes", "created_at", "vector_store_id", "status", "last_error", "chunking_strategy", "attributes")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    usage_bytes: int
    created_at: int
    vector_store_id: str
    status: str
    last_error: VectorStoreFileLastError
    chunking_strategy: ChunkingStrategy
    attributes: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., usage_bytes: _Optional[int] = ..., created_at: _Optional[int] = ..., vector_store_id: _Optional[str] = ..., status: _Optional[str] = ..., last_error: _Optional[_Union[VectorStoreFileLastError, _Mapping]] = ..., chunking_strategy: _Optional[_Union[ChunkingStrategy, _Mapping]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class VectorStoreFileLastError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class VectorStoreFileBatch(_message.Message):
    __slots__ = ("id", "object", "created_at", "vector_store_id", "status", "file_counts")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: int
    vector_store_id: str
    status: str
    file_counts: VectorStoreFileCounts
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., vector_store_id: _Optional[str] = ..., status: _Optional[str] = ..., file_counts: _Optional[_Union[VectorStoreFileCounts, _Mapping]] = ...) -> None: ...

class ChunkingStrategy(_message.Message):
    __slots__ = ("type", "static", "contextual")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATIC_FIELD_NUMBER: _ClassVar[int]
    CONTEXTUAL_FIELD_NUMBER: _ClassVar[int]
    type: str
    static: StaticChunkingConfig
    contextual: ContextualChunkingConfig
    def __init__(self, type: _Optional[str] = ..., static: _Optional[_Union[StaticChunkingConfig, _Mapping]] = ..., contextual: _Optional[_Union[ContextualChunkingConfig, _Mapping]] = ...) -> None: ...

class StaticChunkingConfig(_message.Message):
    __slots__ = ("max_chunk_size_tokens", "chunk_overlap_tokens")
    MAX_CHUNK_SIZE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_OVERLAP_TOKENS_FIELD_NUMBER: _ClassVar[int]
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int
    def __init__(self, max_chunk_size_tokens: _Optional[int] = ..., chunk_overlap_tokens: _Optional[int] = ...) -> None: ...

class ContextualChunkingConfig(_message.Message):
    __slots__ = ("model_id", "context_prompt", "max_chunk_size_tokens", "chunk_overlap_tokens", "timeout_seconds", "max_concurrency")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_SIZE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_OVERLAP_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    context_prompt: str
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int
    timeout_seconds: int
    max_concurrency: int
    def __init__(self, model_id: _Optional[str] = ..., context_prompt: _Optional[str] = ..., max_chunk_size_tokens: _Optional[int] = ..., chunk_overlap_tokens: _Optional[int] = ..., timeout_seconds: _Optional[int] = ..., max_concurrency: _Optional[int] = ...) -> None: ...

class SearchRankingOptions(_message.Message):
    __slots__ = ("ranker", "score_threshold", "alpha", "impact_factor", "weights", "model")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RANKER_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    IMPACT_FACTOR_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ranker: str
    score_threshold: float
    alpha: float
    impact_factor: float
    weights: _containers.ScalarMap[str, float]
    model: str
    def __init__(self, ranker: _Optional[str] = ..., score_threshold: _Optional[float] = ..., alpha: _Optional[float] = ..., impact_factor: _Optional[float] = ..., weights: _Optional[_Mapping[str, float]] = ..., model: _Optional[str] = ...) -> None: ...

class AttributeFilter(_message.Message):
    __slots__ = ("type", "key", "value", "filters")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    type: str
    key: str
    value: _struct_pb2.Value
    filters: _containers.RepeatedCompositeFieldContainer[AttributeFilter]
    def __init__(self, type: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., filters: _Optional[_Iterable[_Union[AttributeFilter, _Mapping]]] = ...) -> None: ...

class VectorStoreSearchResult(_message.Message):
    __slots__ = ("file_id", "filename", "score", "attributes", "content")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    filename: str
    score: float
    attributes: _struct_pb2.Struct
    content: _containers.RepeatedCompositeFieldContainer[VectorStoreContent]
    def __init__(self, file_id: _Optional[str] = ..., filename: _Optional[str] = ..., score: _Optional[float] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., content: _Optional[_Iterable[_Union[VectorStoreContent, _Mapping]]] = ...) -> None: ...

class VectorStoreContent(_message.Message):
    __slots__ = ("type", "text", "embedding", "chunk_metadata", "metadata")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    CHUNK_METADATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    type: str
    text: str
    embedding: _containers.RepeatedScalarFieldContainer[float]
    chunk_metadata: ChunkMetadata
    metadata: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., text: _Optional[str] = ..., embedding: _Optional[_Iterable[float]] = ..., chunk_metadata: _Optional[_Union[ChunkMetadata, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("content", "chunk_id", "metadata", "chunk_metadata", "embedding", "embedding_model", "embedding_dimension", "stored_chunk_id")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_METADATA_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STORED_CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    content: _struct_pb2.Value
    chunk_id: str
    metadata: _struct_pb2.Struct
    chunk_metadata: ChunkMetadata
    embedding: _containers.RepeatedScalarFieldContainer[float]
    embedding_model: str
    embedding_dimension: int
    stored_chunk_id: str
    def __init__(self, content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., chunk_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunk_metadata: _Optional[_Union[ChunkMetadata, _Mapping]] = ..., embedding: _Optional[_Iterable[float]] = ..., embedding_model: _Optional[str] = ..., embedding_dimension: _Optional[int] = ..., stored_chunk_id: _Optional[str] = ...) -> None: ...

class ChunkMetadata(_message.Message):
    __slots__ = ("chunk_id", "document_id", "source", "created_timestamp", "updated_timestamp", "chunk_window", "chunk_tokenizer", "content_token_count", "metadata_token_count", "chunk_embedding_model", "chunk_embedding_dimension")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CHUNK_WINDOW_FIELD_NUMBER: _ClassVar[int]
    CHUNK_TOKENIZER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    METADATA_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_EMBEDDING_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    chunk_id: str
    document_id: str
    source: str
    created_timestamp: int
    updated_timestamp: int
    chunk_window: str
    chunk_tokenizer: str
    content_token_count: int
    metadata_token_count: int
    chunk_embedding_model: str
    chunk_embedding_dimension: int
    def __init__(self, chunk_id: _Optional[str] = ..., document_id: _Optional[str] = ..., source: _Optional[str] = ..., created_timestamp: _Optional[int] = ..., updated_timestamp: _Optional[int] = ..., chunk_window: _Optional[str] = ..., chunk_tokenizer: _Optional[str] = ..., content_token_count: _Optional[int] = ..., metadata_token_count: _Optional[int] = ..., chunk_embedding_model: _Optional[str] = ..., chunk_embedding_dimension: _Optional[int] = ...) -> None: ...
