from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.agents.v1 import agent_pb2 as _agent_pb2
from stackmesh.agents.v1 import conversation_pb2 as _conversation_pb2
from stackmesh.agents.v1 import prompt_pb2 as _prompt_pb2
from stackmesh.agents.v1 import response_pb2 as _response_pb2
from stackmesh.agents.v1 import tool_pb2 as _tool_pb2
from stackmesh.common.v1 import access_pb2 as _access_pb2
from stackmesh.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAgentRequest(_message.Message):
    __slots__ = ("agent_config",)
    AGENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    agent_config: _agent_pb2.AgentConfig
    def __init__(self, agent_config: _Optional[_Union[_agent_pb2.AgentConfig, _Mapping]] = ...) -> None: ...

class CreateAgentResponse(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("start_index", "limit")
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    start_index: int
    limit: int
    def __init__(self, start_index: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("data", "has_more", "url")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_agent_pb2.Agent]
    has_more: bool
    url: str
    def __init__(self, data: _Optional[_Iterable[_Union[_agent_pb2.Agent, _Mapping]]] = ..., has_more: _Optional[bool] = ..., url: _Optional[str] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class DeleteAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("agent_id", "session_name")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_name: str
    def __init__(self, agent_id: _Optional[str] = ..., session_name: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("agent_id", "start_index", "limit")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    start_index: int
    limit: int
    def __init__(self, agent_id: _Optional[str] = ..., start_index: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("data", "has_more", "url")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_agent_pb2.Session]
    has_more: bool
    url: str
    def __init__(self, data: _Optional[_Iterable[_Union[_agent_pb2.Session, _Mapping]]] = ..., has_more: _Optional[bool] = ..., url: _Optional[str] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("agent_id", "session_id", "turn_ids")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_IDS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_id: str
    turn_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., session_id: _Optional[str] = ..., turn_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("agent_id", "session_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_id: str
    def __init__(self, agent_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class CreateTurnRequest(_message.Message):
    __slots__ = ("agent_id", "session_id", "messages", "stream", "documents", "toolgroups", "tool_config")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    TOOLGROUPS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_agent_pb2.InputMessage]
    stream: bool
    documents: _containers.RepeatedCompositeFieldContainer[_agent_pb2.Document]
    toolgroups: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    tool_config: _agent_pb2.ToolConfig
    def __init__(self, agent_id: _Optional[str] = ..., session_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_agent_pb2.InputMessage, _Mapping]]] = ..., stream: _Optional[bool] = ..., documents: _Optional[_Iterable[_Union[_agent_pb2.Document, _Mapping]]] = ..., toolgroups: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., tool_config: _Optional[_Union[_agent_pb2.ToolConfig, _Mapping]] = ...) -> None: ...

class GetTurnRequest(_message.Message):
    __slots__ = ("agent_id", "session_id", "turn_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_id: str
    turn_id: str
    def __init__(self, agent_id: _Optional[str] = ..., session_id: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class ResumeTurnRequest(_message.Message):
    __slots__ = ("agent_id", "session_id", "turn_id", "tool_responses", "stream")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESPONSES_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_id: str
    turn_id: str
    tool_responses: _containers.RepeatedCompositeFieldContainer[_agent_pb2.ToolResponse]
    stream: bool
    def __init__(self, agent_id: _Optional[str] = ..., session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., tool_responses: _Optional[_Iterable[_Union[_agent_pb2.ToolResponse, _Mapping]]] = ..., stream: _Optional[bool] = ...) -> None: ...

class GetStepRequest(_message.Message):
    __slots__ = ("agent_id", "session_id", "turn_id", "step_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    session_id: str
    turn_id: str
    step_id: str
    def __init__(self, agent_id: _Optional[str] = ..., session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., step_id: _Optional[str] = ...) -> None: ...

class GetStepResponse(_message.Message):
    __slots__ = ("step",)
    STEP_FIELD_NUMBER: _ClassVar[int]
    step: _agent_pb2.Step
    def __init__(self, step: _Optional[_Union[_agent_pb2.Step, _Mapping]] = ...) -> None: ...

class CreateResponseRequest(_message.Message):
    __slots__ = ("input", "model", "instructions", "previous_response_id", "conversation", "store", "stream", "background", "tools", "tool_choice", "text", "include", "max_output_tokens", "max_tool_calls", "temperature", "top_p", "metadata", "parallel_tool_calls", "max_infer_iters", "guardrails", "prompt", "prompt_cache_key", "frequency_penalty", "presence_penalty", "top_logprobs", "reasoning", "safety_identifier", "service_tier", "truncation")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    MAX_INFER_ITERS_FIELD_NUMBER: _ClassVar[int]
    GUARDRAILS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CACHE_KEY_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_PENALTY_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_PENALTY_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    SAFETY_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TIER_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    input: _struct_pb2.Value
    model: str
    instructions: str
    previous_response_id: str
    conversation: _struct_pb2.Value
    store: bool
    stream: bool
    background: bool
    tools: _containers.RepeatedCompositeFieldContainer[_response_pb2.ResponseTool]
    tool_choice: _struct_pb2.Value
    text: _response_pb2.ResponseText
    include: _containers.RepeatedScalarFieldContainer[str]
    max_output_tokens: int
    max_tool_calls: int
    temperature: float
    top_p: float
    metadata: _containers.ScalarMap[str, str]
    parallel_tool_calls: bool
    max_infer_iters: int
    guardrails: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    prompt: _response_pb2.ResponsePrompt
    prompt_cache_key: str
    frequency_penalty: float
    presence_penalty: float
    top_logprobs: int
    reasoning: _response_pb2.ResponseReasoning
    safety_identifier: str
    service_tier: str
    truncation: str
    def __init__(self, input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., model: _Optional[str] = ..., instructions: _Optional[str] = ..., previous_response_id: _Optional[str] = ..., conversation: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., store: _Optional[bool] = ..., stream: _Optional[bool] = ..., background: _Optional[bool] = ..., tools: _Optional[_Iterable[_Union[_response_pb2.ResponseTool, _Mapping]]] = ..., tool_choice: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., text: _Optional[_Union[_response_pb2.ResponseText, _Mapping]] = ..., include: _Optional[_Iterable[str]] = ..., max_output_tokens: _Optional[int] = ..., max_tool_calls: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., metadata: _Optional[_Mapping[str, str]] = ..., parallel_tool_calls: _Optional[bool] = ..., max_infer_iters: _Optional[int] = ..., guardrails: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., prompt: _Optional[_Union[_response_pb2.ResponsePrompt, _Mapping]] = ..., prompt_cache_key: _Optional[str] = ..., frequency_penalty: _Optional[float] = ..., presence_penalty: _Optional[float] = ..., top_logprobs: _Optional[int] = ..., reasoning: _Optional[_Union[_response_pb2.ResponseReasoning, _Mapping]] = ..., safety_identifier: _Optional[str] = ..., service_tier: _Optional[str] = ..., truncation: _Optional[str] = ...) -> None: ...

class ListResponsesRequest(_message.Message):
    __slots__ = ("after", "limit", "model", "order")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    model: str
    order: str
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ..., model: _Optional[str] = ..., order: _Optional[str] = ...) -> None: ...

class ListResponsesResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[_response_pb2.Response]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[_response_pb2.Response, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetResponseRequest(_message.Message):
    __slots__ = ("response_id", "include")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    include: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, response_id: _Optional[str] = ..., include: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteResponseRequest(_message.Message):
    __slots__ = ("response_id",)
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    def __init__(self, response_id: _Optional[str] = ...) -> None: ...

class ListResponseInputItemsRequest(_message.Message):
    __slots__ = ("response_id", "after", "before", "include", "limit", "order")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    after: str
    before: str
    include: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    order: str
    def __init__(self, response_id: _Optional[str] = ..., after: _Optional[str] = ..., before: _Optional[str] = ..., include: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., order: _Optional[str] = ...) -> None: ...

class ListResponseInputItemsResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[_response_pb2.ResponseItem]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[_response_pb2.ResponseItem, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CancelResponseRequest(_message.Message):
    __slots__ = ("response_id",)
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    def __init__(self, response_id: _Optional[str] = ...) -> None: ...

class WatchResponseRequest(_message.Message):
    __slots__ = ("response_id",)
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    def __init__(self, response_id: _Optional[str] = ...) -> None: ...

class BackgroundResponseJob(_message.Message):
    __slots__ = ("response_id", "created_at", "request")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    created_at: int
    request: CreateResponseRequest
    def __init__(self, response_id: _Optional[str] = ..., created_at: _Optional[int] = ..., request: _Optional[_Union[CreateResponseRequest, _Mapping]] = ...) -> None: ...

class CreateConversationRequest(_message.Message):
    __slots__ = ("items", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, items: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class UpdateConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, conversation_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeleteConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class ListConversationItemsRequest(_message.Message):
    __slots__ = ("conversation_id", "after", "include", "limit", "order")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    after: str
    include: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    order: str
    def __init__(self, conversation_id: _Optional[str] = ..., after: _Optional[str] = ..., include: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., order: _Optional[str] = ...) -> None: ...

class CreateConversationItemsRequest(_message.Message):
    __slots__ = ("conversation_id", "items")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    items: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, conversation_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class GetConversationItemRequest(_message.Message):
    __slots__ = ("conversation_id", "item_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    item_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class DeleteConversationItemRequest(_message.Message):
    __slots__ = ("conversation_id", "item_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    item_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class ListToolsRequest(_message.Message):
    __slots__ = ("toolgroup_id",)
    TOOLGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    toolgroup_id: str
    def __init__(self, toolgroup_id: _Optional[str] = ...) -> None: ...

class ListToolDefsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_tool_pb2.ToolDef]
    def __init__(self, data: _Optional[_Iterable[_Union[_tool_pb2.ToolDef, _Mapping]]] = ...) -> None: ...

class GetToolRequest(_message.Message):
    __slots__ = ("tool_name",)
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    tool_name: str
    def __init__(self, tool_name: _Optional[str] = ...) -> None: ...

class ListToolGroupsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListToolGroupsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_tool_pb2.ToolGroup]
    def __init__(self, data: _Optional[_Iterable[_Union[_tool_pb2.ToolGroup, _Mapping]]] = ...) -> None: ...

class RegisterToolGroupRequest(_message.Message):
    __slots__ = ("toolgroup_id", "provider_id", "mcp_endpoint", "args")
    TOOLGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    MCP_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    toolgroup_id: str
    provider_id: str
    mcp_endpoint: _tool_pb2.McpEndpoint
    args: _struct_pb2.Struct
    def __init__(self, toolgroup_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., mcp_endpoint: _Optional[_Union[_tool_pb2.McpEndpoint, _Mapping]] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetToolGroupRequest(_message.Message):
    __slots__ = ("toolgroup_id",)
    TOOLGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    toolgroup_id: str
    def __init__(self, toolgroup_id: _Optional[str] = ...) -> None: ...

class UnregisterToolGroupRequest(_message.Message):
    __slots__ = ("toolgroup_id",)
    TOOLGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    toolgroup_id: str
    def __init__(self, toolgroup_id: _Optional[str] = ...) -> None: ...

class InvokeToolRequest(_message.Message):
    __slots__ = ("tool_name", "kwargs", "authorization")
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    KWARGS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    tool_name: str
    kwargs: _struct_pb2.Struct
    authorization: str
    def __init__(self, tool_name: _Optional[str] = ..., kwargs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., authorization: _Optional[str] = ...) -> None: ...

class ListRuntimeToolsRequest(_message.Message):
    __slots__ = ("tool_group_id", "mcp_endpoint", "authorization")
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MCP_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    mcp_endpoint: _tool_pb2.McpEndpoint
    authorization: str
    def __init__(self, tool_group_id: _Optional[str] = ..., mcp_endpoint: _Optional[_Union[_tool_pb2.McpEndpoint, _Mapping]] = ..., authorization: _Optional[str] = ...) -> None: ...

class ListPromptsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreatePromptRequest(_message.Message):
    __slots__ = ("prompt", "variables")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    variables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, prompt: _Optional[str] = ..., variables: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPromptRequest(_message.Message):
    __slots__ = ("prompt_id", "version")
    PROMPT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    prompt_id: str
    version: int
    def __init__(self, prompt_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class UpdatePromptRequest(_message.Message):
    __slots__ = ("prompt_id", "prompt", "version", "variables", "set_as_default")
    PROMPT_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    SET_AS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    prompt_id: str
    prompt: str
    version: int
    variables: _containers.RepeatedScalarFieldContainer[str]
    set_as_default: bool
    def __init__(self, prompt_id: _Optional[str] = ..., prompt: _Optional[str] = ..., version: _Optional[int] = ..., variables: _Optional[_Iterable[str]] = ..., set_as_default: _Optional[bool] = ...) -> None: ...

class DeletePromptRequest(_message.Message):
    __slots__ = ("prompt_id",)
    PROMPT_ID_FIELD_NUMBER: _ClassVar[int]
    prompt_id: str
    def __init__(self, prompt_id: _Optional[str] = ...) -> None: ...

class SetDefaultPromptVersionRequest(_message.Message):
    __slots__ = ("prompt_id", "version")
    PROMPT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    prompt_id: str
    version: int
    def __init__(self, prompt_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListPromptVersionsRequest(_message.Message):
    __slots__ = ("prompt_id",)
    PROMPT_ID_FIELD_NUMBER: _ClassVar[int]
    prompt_id: str
    def __init__(self, prompt_id: _Optional[str] = ...) -> None: ...
