from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.vector_io.v1 import vector_store_pb2 as _vector_store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Annotation(_message.Message):
    __slots__ = ("type", "file_id", "filename", "index", "start_index", "end_index", "url", "title", "container_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    END_INDEX_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    file_id: str
    filename: str
    index: int
    start_index: int
    end_index: int
    url: str
    title: str
    container_id: str
    def __init__(self, type: _Optional[str] = ..., file_id: _Optional[str] = ..., filename: _Optional[str] = ..., index: _Optional[int] = ..., start_index: _Optional[int] = ..., end_index: _Optional[int] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., container_id: _Optional[str] = ...) -> None: ...

class TopLogProb(_message.Message):
    __slots__ = ("token", "bytes", "logprob")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    token: str
    bytes: _containers.RepeatedScalarFieldContainer[int]
    logprob: float
    def __init__(self, token: _Optional[str] = ..., bytes: _Optional[_Iterable[int]] = ..., logprob: _Optional[float] = ...) -> None: ...

class TokenLogProb(_message.Message):
    __slots__ = ("token", "bytes", "logprob", "top_logprobs")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    token: str
    bytes: _containers.RepeatedScalarFieldContainer[int]
    logprob: float
    top_logprobs: _containers.RepeatedCompositeFieldContainer[TopLogProb]
    def __init__(self, token: _Optional[str] = ..., bytes: _Optional[_Iterable[int]] = ..., logprob: _Optional[float] = ..., top_logprobs: _Optional[_Iterable[_Union[TopLogProb, _Mapping]]] = ...) -> None: ...

class ContentPart(_message.Message):
    __slots__ = ("type", "text", "annotations", "logprobs", "refusal", "image_url", "file_id", "detail", "file_data", "file_url", "filename")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    FILE_DATA_FIELD_NUMBER: _ClassVar[int]
    FILE_URL_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    type: str
    text: str
    annotations: _containers.RepeatedCompositeFieldContainer[Annotation]
    logprobs: _containers.RepeatedCompositeFieldContainer[TokenLogProb]
    refusal: str
    image_url: str
    file_id: str
    detail: str
    file_data: str
    file_url: str
    filename: str
    def __init__(self, type: _Optional[str] = ..., text: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ..., logprobs: _Optional[_Iterable[_Union[TokenLogProb, _Mapping]]] = ..., refusal: _Optional[str] = ..., image_url: _Optional[str] = ..., file_id: _Optional[str] = ..., detail: _Optional[str] = ..., file_data: _Optional[str] = ..., file_url: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class FileSearchResult(_message.Message):
    __slots__ = ("attributes", "file_id", "filename", "score", "text")
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    attributes: _struct_pb2.Struct
    file_id: str
    filename: str
    score: float
    text: str
    def __init__(self, attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., file_id: _Optional[str] = ..., filename: _Optional[str] = ..., score: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class McpListToolsTool(_message.Message):
    __slots__ = ("input_schema", "name", "description", "annotations")
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    input_schema: _struct_pb2.Struct
    name: str
    description: str
    annotations: _struct_pb2.Struct
    def __init__(self, input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., annotations: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ResponseItem(_message.Message):
    __slots__ = ("type", "id", "status", "role", "content", "call_id", "name", "arguments", "output", "queries", "results", "action", "server_label", "error", "tools", "approval_request_id", "approve", "reason")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SERVER_LABEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    status: str
    role: str
    content: _containers.RepeatedCompositeFieldContainer[ContentPart]
    call_id: str
    name: str
    arguments: str
    output: _struct_pb2.Value
    queries: _containers.RepeatedScalarFieldContainer[str]
    results: _containers.RepeatedCompositeFieldContainer[FileSearchResult]
    action: _struct_pb2.Struct
    server_label: str
    error: _struct_pb2.Value
    tools: _containers.RepeatedCompositeFieldContainer[McpListToolsTool]
    approval_request_id: str
    approve: bool
    reason: str
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ..., status: _Optional[str] = ..., role: _Optional[str] = ..., content: _Optional[_Iterable[_Union[ContentPart, _Mapping]]] = ..., call_id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., queries: _Optional[_Iterable[str]] = ..., results: _Optional[_Iterable[_Union[FileSearchResult, _Mapping]]] = ..., action: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., server_label: _Optional[str] = ..., error: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[McpListToolsTool, _Mapping]]] = ..., approval_request_id: _Optional[str] = ..., approve: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class FileSearchRankingOptions(_message.Message):
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

class ResponseTool(_message.Message):
    __slots__ = ("type", "name", "description", "parameters", "strict", "vector_store_ids", "filters", "max_num_results", "ranking_options", "server_label", "server_url", "headers", "require_approval", "allowed_tools", "connector_id", "authorization", "search_context_size")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_STORE_IDS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    RANKING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SERVER_LABEL_FIELD_NUMBER: _ClassVar[int]
    SERVER_URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    SEARCH_CONTEXT_SIZE_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    description: str
    parameters: _struct_pb2.Struct
    strict: bool
    vector_store_ids: _containers.RepeatedScalarFieldContainer[str]
    filters: _vector_store_pb2.AttributeFilter
    max_num_results: int
    ranking_options: FileSearchRankingOptions
    server_label: str
    server_url: str
    headers: _struct_pb2.Struct
    require_approval: _struct_pb2.Value
    allowed_tools: _struct_pb2.Value
    connector_id: str
    authorization: str
    search_context_size: str
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., strict: _Optional[bool] = ..., vector_store_ids: _Optional[_Iterable[str]] = ..., filters: _Optional[_Union[_vector_store_pb2.AttributeFilter, _Mapping]] = ..., max_num_results: _Optional[int] = ..., ranking_options: _Optional[_Union[FileSearchRankingOptions, _Mapping]] = ..., server_label: _Optional[str] = ..., server_url: _Optional[str] = ..., headers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., require_approval: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., allowed_tools: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., connector_id: _Optional[str] = ..., authorization: _Optional[str] = ..., search_context_size: _Optional[str] = ...) -> None: ...

class ResponseTextFormat(_message.Message):
    __slots__ = ("type", "name", "schema", "description", "strict")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    schema: _struct_pb2.Struct
    description: str
    strict: bool
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., description: _Optional[str] = ..., strict: _Optional[bool] = ...) -> None: ...

class ResponseText(_message.Message):
    __slots__ = ("format",)
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    format: ResponseTextFormat
    def __init__(self, format: _Optional[_Union[ResponseTextFormat, _Mapping]] = ...) -> None: ...

class ResponsePrompt(_message.Message):
    __slots__ = ("id", "variables", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    variables: _struct_pb2.Struct
    version: str
    def __init__(self, id: _Optional[str] = ..., variables: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., version: _Optional[str] = ...) -> None: ...

class ResponseReasoning(_message.Message):
    __slots__ = ("effort", "summary")
    EFFORT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    effort: str
    summary: str
    def __init__(self, effort: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class ResponseError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ResponseIncompleteDetails(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ResponseInputTokensDetails(_message.Message):
    __slots__ = ("cached_tokens", "cache_write_tokens")
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    cached_tokens: int
    cache_write_tokens: int
    def __init__(self, cached_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ...) -> None: ...

class ResponseOutputTokensDetails(_message.Message):
    __slots__ = ("reasoning_tokens",)
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    reasoning_tokens: int
    def __init__(self, reasoning_tokens: _Optional[int] = ...) -> None: ...

class ResponseUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: ResponseInputTokensDetails
    output_tokens_details: ResponseOutputTokensDetails
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., input_tokens_details: _Optional[_Union[ResponseInputTokensDetails, _Mapping]] = ..., output_tokens_details: _Optional[_Union[ResponseOutputTokensDetails, _Mapping]] = ...) -> None: ...

class ResponseConversation(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("id", "object", "created_at", "completed_at", "status", "error", "incomplete_details", "model", "output", "usage", "instructions", "previous_response_id", "conversation", "background", "store", "parallel_tool_calls", "tool_choice", "tools", "text", "temperature", "top_p", "frequency_penalty", "presence_penalty", "top_logprobs", "max_output_tokens", "max_tool_calls", "truncation", "reasoning", "prompt", "prompt_cache_key", "safety_identifier", "service_tier", "metadata", "input")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_PENALTY_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_PENALTY_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CACHE_KEY_FIELD_NUMBER: _ClassVar[int]
    SAFETY_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TIER_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: int
    completed_at: int
    status: str
    error: ResponseError
    incomplete_details: ResponseIncompleteDetails
    model: str
    output: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    usage: ResponseUsage
    instructions: str
    previous_response_id: str
    conversation: ResponseConversation
    background: bool
    store: bool
    parallel_tool_calls: bool
    tool_choice: _struct_pb2.Value
    tools: _containers.RepeatedCompositeFieldContainer[ResponseTool]
    text: ResponseText
    temperature: float
    top_p: float
    frequency_penalty: float
    presence_penalty: float
    top_logprobs: int
    max_output_tokens: int
    max_tool_calls: int
    truncation: str
    reasoning: ResponseReasoning
    prompt: ResponsePrompt
    prompt_cache_key: str
    safety_identifier: str
    service_tier: str
    metadata: _containers.ScalarMap[str, str]
    input: _struct_pb2.ListValue
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[int] = ..., completed_at: _Optional[int] = ..., status: _Optional[str] = ..., error: _Optional[_Union[ResponseError, _Mapping]] = ..., incomplete_details: _Optional[_Union[ResponseIncompleteDetails, _Mapping]] = ..., model: _Optional[str] = ..., output: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., usage: _Optional[_Union[ResponseUsage, _Mapping]] = ..., instructions: _Optional[str] = ..., previous_response_id: _Optional[str] = ..., conversation: _Optional[_Union[ResponseConversation, _Mapping]] = ..., background: _Optional[bool] = ..., store: _Optional[bool] = ..., parallel_tool_calls: _Optional[bool] = ..., tool_choice: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[ResponseTool, _Mapping]]] = ..., text: _Optional[_Union[ResponseText, _Mapping]] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., frequency_penalty: _Optional[float] = ..., presence_penalty: _Optional[float] = ..., top_logprobs: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., max_tool_calls: _Optional[int] = ..., truncation: _Optional[str] = ..., reasoning: _Optional[_Union[ResponseReasoning, _Mapping]] = ..., prompt: _Optional[_Union[ResponsePrompt, _Mapping]] = ..., prompt_cache_key: _Optional[str] = ..., safety_identifier: _Optional[str] = ..., service_tier: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., input: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ...) -> None: ...

class DeletedResponse(_message.Message):
    __slots__ = ("id", "object", "deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    deleted: bool
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ResponseStreamEvent(_message.Message):
    __slots__ = ("type", "sequence_number", "response", "response_id", "item", "item_id", "output_index", "content_index", "summary_index", "annotation_index", "part", "annotation", "delta", "text", "arguments", "name", "refusal", "logprobs", "code", "message", "param")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    CONTENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_INDEX_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_INDEX_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAM_FIELD_NUMBER: _ClassVar[int]
    type: str
    sequence_number: int
    response: Response
    response_id: str
    item: ResponseItem
    item_id: str
    output_index: int
    content_index: int
    summary_index: int
    annotation_index: int
    part: ContentPart
    annotation: Annotation
    delta: str
    text: str
    arguments: str
    name: str
    refusal: str
    logprobs: _struct_pb2.ListValue
    code: str
    message: str
    param: str
    def __init__(self, type: _Optional[str] = ..., sequence_number: _Optional[int] = ..., response: _Optional[_Union[Response, _Mapping]] = ..., response_id: _Optional[str] = ..., item: _Optional[_Union[ResponseItem, _Mapping]] = ..., item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., content_index: _Optional[int] = ..., summary_index: _Optional[int] = ..., annotation_index: _Optional[int] = ..., part: _Optional[_Union[ContentPart, _Mapping]] = ..., annotation: _Optional[_Union[Annotation, _Mapping]] = ..., delta: _Optional[str] = ..., text: _Optional[str] = ..., arguments: _Optional[str] = ..., name: _Optional[str] = ..., refusal: _Optional[str] = ..., logprobs: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., param: _Optional[str] = ...) -> None: ...
