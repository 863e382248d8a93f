import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from stackmesh.agents.v1 import tool_pb2 as _tool_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SamplingStrategy(_message.Message):
    __slots__ = ("type", "temperature", "top_p", "top_k")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    type: str
    temperature: float
    top_p: float
    top_k: int
    def __init__(self, type: _Optional[str] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., top_k: _Optional[int] = ...) -> None: ...

class SamplingParams(_message.Message):
    __slots__ = ("strategy", "max_tokens", "repetition_penalty", "stop")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REPETITION_PENALTY_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    strategy: SamplingStrategy
    max_tokens: int
    repetition_penalty: float
    stop: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, strategy: _Optional[_Union[SamplingStrategy, _Mapping]] = ..., max_tokens: _Optional[int] = ..., repetition_penalty: _Optional[float] = ..., stop: _Optional[_Iterable[str]] = ...) -> None: ...

class ToolConfig(_message.Message):
    __slots__ = ("tool_choice", "tool_prompt_format", "system_message_behavior")
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_PROMPT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_MESSAGE_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    tool_choice: str
    tool_prompt_format: str
    system_message_behavior: str
    def __init__(self, tool_choice: _Optional[str] = ..., tool_prompt_format: _Optional[str] = ..., system_message_behavior: _Optional[str] = ...) -> None: ...

class ResponseFormat(_message.Message):
    __slots__ = ("type", "json_schema", "bnf")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    BNF_FIELD_NUMBER: _ClassVar[int]
    type: str
    json_schema: _struct_pb2.Struct
    bnf: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., json_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., bnf: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AgentConfig(_message.Message):
    __slots__ = ("sampling_params", "input_shields", "output_shields", "toolgroups", "client_tools", "tool_choice", "tool_prompt_format", "tool_config", "max_infer_iters", "model", "instructions", "name", "enable_session_persistence", "response_format")
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INPUT_SHIELDS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHIELDS_FIELD_NUMBER: _ClassVar[int]
    TOOLGROUPS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_PROMPT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    MAX_INFER_ITERS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLE_SESSION_PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    sampling_params: SamplingParams
    input_shields: _containers.RepeatedScalarFieldContainer[str]
    output_shields: _containers.RepeatedScalarFieldContainer[str]
    toolgroups: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    client_tools: _containers.RepeatedCompositeFieldContainer[_tool_pb2.ToolDef]
    tool_choice: str
    tool_prompt_format: str
    tool_config: ToolConfig
    max_infer_iters: int
    model: str
    instructions: str
    name: str
    enable_session_persistence: bool
    response_format: ResponseFormat
    def __init__(self, sampling_params: _Optional[_Union[SamplingParams, _Mapping]] = ..., input_shields: _Optional[_Iterable[str]] = ..., output_shields: _Optional[_Iterable[str]] = ..., toolgroups: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., client_tools: _Optional[_Iterable[_Union[_tool_pb2.ToolDef, _Mapping]]] = ..., tool_choice: _Optional[str] = ..., tool_prompt_format: _Optional[str] = ..., tool_config: _Optional[_Union[ToolConfig, _Mapping]] = ..., max_infer_iters: _Optional[int] = ..., model: _Optional[str] = ..., instructions: _Optional[str] = ..., name: _Optional[str] = ..., enable_session_persistence: _Optional[bool] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("agent_id", "agent_config", "created_at")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    agent_config: AgentConfig
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, agent_id: _Optional[str] = ..., agent_config: _Optional[_Union[AgentConfig, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "session_name", "turns", "started_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_name: str
    turns: _containers.RepeatedCompositeFieldContainer[Turn]
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InputMessage(_message.Message):
    __slots__ = ("role", "content", "context", "call_id")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: _struct_pb2.Value
    context: _struct_pb2.Value
    call_id: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., context: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., call_id: _Optional[str] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("call_id", "tool_name", "arguments")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool_name: str
    arguments: str
    def __init__(self, call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class CompletionMessage(_message.Message):
    __slots__ = ("role", "content", "stop_reason", "tool_calls")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: _struct_pb2.Value
    stop_reason: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    def __init__(self, role: _Optional[str] = ..., content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., stop_reason: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ...) -> None: ...

class ToolResponse(_message.Message):
    __slots__ = ("call_id", "tool_name", "content", "metadata")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool_name: str
    content: _struct_pb2.Value
    metadata: _struct_pb2.Struct
    def __init__(self, call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SafetyViolation(_message.Message):
    __slots__ = ("violation_level", "user_message", "metadata")
    VIOLATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    violation_level: str
    user_message: str
    metadata: _struct_pb2.Struct
    def __init__(self, violation_level: _Optional[str] = ..., user_message: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("turn_id", "step_id", "started_at", "completed_at", "step_type", "model_response", "tool_calls", "tool_responses", "violation", "vector_db_ids", "inserted_context")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    STEP_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESPONSES_FIELD_NUMBER: _ClassVar[int]
    VIOLATION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_DB_IDS_FIELD_NUMBER: _ClassVar[int]
    INSERTED_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    step_id: str
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    step_type: str
    model_response: CompletionMessage
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    tool_responses: _containers.RepeatedCompositeFieldContainer[ToolResponse]
    violation: SafetyViolation
    vector_db_ids: str
    inserted_context: _struct_pb2.Value
    def __init__(self, turn_id: _Optional[str] = ..., step_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_type: _Optional[str] = ..., model_response: _Optional[_Union[CompletionMessage, _Mapping]] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., tool_responses: _Optional[_Iterable[_Union[ToolResponse, _Mapping]]] = ..., violation: _Optional[_Union[SafetyViolation, _Mapping]] = ..., vector_db_ids: _Optional[str] = ..., inserted_context: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class Document(_message.Message):
    __slots__ = ("content", "mime_type")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    content: _struct_pb2.Value
    mime_type: str
    def __init__(self, content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., mime_type: _Optional[str] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("content", "mime_type")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    content: _struct_pb2.Value
    mime_type: str
    def __init__(self, content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., mime_type: _Optional[str] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("turn_id", "session_id", "input_messages", "steps", "output_message", "output_attachments", "started_at", "completed_at")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    session_id: str
    input_messages: _containers.RepeatedCompositeFieldContainer[InputMessage]
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    output_message: CompletionMessage
    output_attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, turn_id: _Optional[str] = ..., session_id: _Optional[str] = ..., input_messages: _Optional[_Iterable[_Union[InputMessage, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., output_message: _Optional[_Union[CompletionMessage, _Mapping]] = ..., output_attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StepDelta(_message.Message):
    __slots__ = ("type", "text", "image", "tool_call", "parse_status")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    PARSE_STATUS_FIELD_NUMBER: _ClassVar[int]
    type: str
    text: str
    image: bytes
    tool_call: _struct_pb2.Value
    parse_status: str
    def __init__(self, type: _Optional[str] = ..., text: _Optional[str] = ..., image: _Optional[bytes] = ..., tool_call: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., parse_status: _Optional[str] = ...) -> None: ...

class TurnStreamPayload(_message.Message):
    __slots__ = ("event_type", "step_type", "step_id", "metadata", "delta", "step_details", "turn_id", "turn")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STEP_TYPE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    STEP_DETAILS_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    step_type: str
    step_id: str
    metadata: _struct_pb2.Struct
    delta: StepDelta
    step_details: Step
    turn_id: str
    turn: Turn
    def __init__(self, event_type: _Optional[str] = ..., step_type: _Optional[str] = ..., step_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., delta: _Optional[_Union[StepDelta, _Mapping]] = ..., step_details: _Optional[_Union[Step, _Mapping]] = ..., turn_id: _Optional[str] = ..., turn: _Optional[_Union[Turn, _Mapping]] = ...) -> None: ...

class TurnStreamEvent(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: TurnStreamPayload
    def __init__(self, payload: _Optional[_Union[TurnStreamPayload, _Mapping]] = ...) -> None: ...

class TurnStreamChunk(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TurnStreamEvent
    def __init__(self, event: _Optional[_Union[TurnStreamEvent, _Mapping]] = ...) -> None: ...
