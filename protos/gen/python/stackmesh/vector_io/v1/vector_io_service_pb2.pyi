from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.vector_io.v1 import vector_store_pb2 as _vector_store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateVectorStoreRequest(_message.Message):
    __slots__ = ("name", "file_ids", "expires_after", "chunking_strategy", "metadata", "embedding_model", "embedding_dimension", "provider_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    file_ids: _containers.RepeatedScalarFieldContainer[str]
    expires_after: _vector_store_pb2.VectorStoreExpiresAfter
    chunking_strategy: _vector_store_pb2.ChunkingStrategy
    metadata: _struct_pb2.Struct
    embedding_model: str
    embedding_dimension: int
    provider_id: str
    def __init__(self, name: _Optional[str] = ..., file_ids: _Optional[_Iterable[str]] = ..., expires_after: _Optional[_Union[_vector_store_pb2.VectorStoreExpiresAfter, _Mapping]] = ..., chunking_strategy: _Optional[_Union[_vector_store_pb2.ChunkingStrategy, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., embedding_model: _Optional[str] = ..., embedding_dimension: _Optional[int] = ..., provider_id: _Optional[str] = ...) -> None: ...

class ListVectorStoresRequest(_message.Message):
    __slots__ = ("limit", "order", "after", "before")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    order: str
    after: str
    before: str
    def __init__(self, limit: _Optional[int] = ..., order: _Optional[str] = ..., after: _Optional[str] = ..., before: _Optional[str] = ...) -> None: ...

class ListVectorStoresResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.VectorStore]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[_vector_store_pb2.VectorStore, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id",)
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    def __init__(self, vector_store_id: _Optional[str] = ...) -> None: ...

class UpdateVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id", "name", "expires_after", "metadata")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    name: str
    expires_after: _vector_store_pb2.VectorStoreExpiresAfter
    metadata: _struct_pb2.Struct
    def __init__(self, vector_store_id: _Optional[str] = ..., name: _Optional[str] = ..., expires_after: _Optional[_Union[_vector_store_pb2.VectorStoreExpiresAfter, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeleteVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id",)
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    def __init__(self, vector_store_id: _Optional[str] = ...) -> None: ...

class DeleteVectorStoreResponse(_message.Message):
    __slots__ = ("id", "object", "deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    deleted: bool
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class SearchVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id", "query", "filters", "max_num_results", "ranking_options", "rewrite_query", "search_mode")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    RANKING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REWRITE_QUERY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_MODE_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    query: _struct_pb2.Value
    filters: _vector_store_pb2.AttributeFilter
    max_num_results: int
    ranking_options: _vector_store_pb2.SearchRankingOptions
    rewrite_query: bool
    search_mode: str
    def __init__(self, vector_store_id: _Optional[str] = ..., query: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., filters: _Optional[_Union[_vector_store_pb2.AttributeFilter, _Mapping]] = ..., max_num_results: _Optional[int] = ..., ranking_options: _Optional[_Union[_vector_store_pb2.SearchRankingOptions, _Mapping]] = ..., rewrite_query: _Optional[bool] = ..., search_mode: _Optional[str] = ...) -> None: ...

class SearchVectorStoreResponse(_message.Message):
    __slots__ = ("object", "search_query", "data", "has_more", "next_page")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    SEARCH_QUERY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_FIELD_NUMBER: _ClassVar[int]
    object: str
    search_query: _containers.RepeatedScalarFieldContainer[str]
    data: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.VectorStoreSearchResult]
    has_more: bool
    next_page: str
    def __init__(self, object: _Optional[str] = ..., search_query: _Optional[_Iterable[str]] = ..., data: _Optional[_Iterable[_Union[_vector_store_pb2.VectorStoreSearchResult, _Mapping]]] = ..., has_more: _Optional[bool] = ..., next_page: _Optional[str] = ...) -> None: ...

class CreateVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id", "attributes", "chunking_strategy")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    attributes: _struct_pb2.Struct
    chunking_strategy: _vector_store_pb2.ChunkingStrategy
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunking_strategy: _Optional[_Union[_vector_store_pb2.ChunkingStrategy, _Mapping]] = ...) -> None: ...

class ListVectorStoreFilesRequest(_message.Message):
    __slots__ = ("vector_store_id", "limit", "order", "after", "before", "filter")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    limit: int
    order: str
    after: str
    before: str
    filter: str
    def __init__(self, vector_store_id: _Optional[str] = ..., limit: _Optional[int] = ..., order: _Optional[str] = ..., after: _Optional[str] = ..., before: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListVectorStoreFilesResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.VectorStoreFile]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[_vector_store_pb2.VectorStoreFile, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ...) -> None: ...

class UpdateVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id", "attributes")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    attributes: _struct_pb2.Struct
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeleteVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ...) -> None: ...

class DeleteVectorStoreFileResponse(_message.Message):
    __slots__ = ("id", "object", "deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    deleted: bool
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class RetrieveVectorStoreFileContentRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id", "include_embeddings", "include_metadata")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_METADATA_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    include_embeddings: bool
    include_metadata: bool
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ..., include_embeddings: _Optional[bool] = ..., include_metadata: _Optional[bool] = ...) -> None: ...

class RetrieveVectorStoreFileContentResponse(_message.Message):
    __slots__ = ("object", "data", "has_more", "next_page", "file_id", "filename", "attributes", "content")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.VectorStoreContent]
    has_more: bool
    next_page: str
    file_id: str
    filename: str
    attributes: _struct_pb2.Struct
    content: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.VectorStoreContent]
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[_vector_store_pb2.VectorStoreContent, _Mapping]]] = ..., has_more: _Optional[bool] = ..., next_page: _Optional[str] = ..., file_id: _Optional[str] = ..., filename: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., content: _Optional[_Iterable[_Union[_vector_store_pb2.VectorStoreContent, _Mapping]]] = ...) -> None: ...

class CreateVectorStoreFileBatchRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_ids", "attributes", "chunking_strategy", "files")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_ids: _containers.RepeatedScalarFieldContainer[str]
    attributes: _struct_pb2.Struct
    chunking_strategy: _vector_store_pb2.ChunkingStrategy
    files: _containers.RepeatedCompositeFieldContainer[VectorStoreFileBatchFile]
    def __init__(self, vector_store_id: _Optional[str] = ..., file_ids: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunking_strategy: _Optional[_Union[_vector_store_pb2.ChunkingStrategy, _Mapping]] = ..., files: _Optional[_Iterable[_Union[VectorStoreFileBatchFile, _Mapping]]] = ...) -> None: ...

class VectorStoreFileBatchFile(_message.Message):
    __slots__ = ("file_id", "attributes", "chunking_strategy")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    attributes: _struct_pb2.Struct
    chunking_strategy: _vector_store_pb2.ChunkingStrategy
    def __init__(self, file_id: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunking_strategy: _Optional[_Union[_vector_store_pb2.ChunkingStrategy, _Mapping]] = ...) -> None: ...

class GetVectorStoreFileBatchRequest(_message.Message):
    __slots__ = ("vector_store_id", "batch_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    batch_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., batch_id: _Optional[str] = ...) -> None: ...

class CancelVectorStoreFileBatchRequest(_message.Message):
    __slots__ = ("vector_store_id", "batch_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    batch_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., batch_id: _Optional[str] = ...) -> None: ...

class ListVectorStoreFileBatchFilesRequest(_message.Message):
    __slots__ = ("vector_store_id", "batch_id", "limit", "order", "after", "before", "filter")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    batch_id: str
    limit: int
    order: str
    after: str
    before: str
    filter: str
    def __init__(self, vector_store_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., limit: _Optional[int] = ..., order: _Optional[str] = ..., after: _Optional[str] = ..., before: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class InsertChunksRequest(_message.Message):
    __slots__ = ("vector_store_id", "chunks", "ttl_seconds", "vector_db_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    chunks: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.Chunk]
    ttl_seconds: int
    vector_db_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., chunks: _Optional[_Iterable[_Union[_vector_store_pb2.Chunk, _Mapping]]] = ..., ttl_seconds: _Optional[int] = ..., vector_db_id: _Optional[str] = ...) -> None: ...

class QueryChunksRequest(_message.Message):
    __slots__ = ("vector_store_id", "query", "params", "vector_db_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    query: _struct_pb2.Value
    params: _struct_pb2.Struct
    vector_db_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., query: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., vector_db_id: _Optional[str] = ...) -> None: ...

class QueryChunksResponse(_message.Message):
    __slots__ = ("chunks", "scores")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[_vector_store_pb2.Chunk]
    scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, chunks: _Optional[_Iterable[_Union[_vector_store_pb2.Chunk, _Mapping]]] = ..., scores: _Optional[_Iterable[float]] = ...) -> None: ...
