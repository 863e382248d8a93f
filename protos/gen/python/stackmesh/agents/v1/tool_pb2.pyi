from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class McpEndpoint(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class ToolGroup(_message.Message):
    __slots__ = ("identifier", "provider_resource_id", "provider_id", "type", "mcp_endpoint", "args")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MCP_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_resource_id: str
    provider_id: str
    type: str
    mcp_endpoint: McpEndpoint
    args: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., type: _Optional[str] = ..., mcp_endpoint: _Optional[_Union[McpEndpoint, _Mapping]] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ToolDef(_message.Message):
    __slots__ = ("toolgroup_id", "name", "description", "input_schema", "output_schema", "metadata")
    TOOLGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    toolgroup_id: str
    name: str
    description: str
    input_schema: _struct_pb2.Struct
    output_schema: _struct_pb2.Struct
    metadata: _struct_pb2.Struct
    def __init__(self, toolgroup_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ToolInvocationResult(_message.Message):
    __slots__ = ("content", "error_message", "error_code", "metadata")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    content: _struct_pb2.Value
    error_message: str
    error_code: int
    metadata: _struct_pb2.Struct
    def __init__(self, content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error_message: _Optional[str] = ..., error_code: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
