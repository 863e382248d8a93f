from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Shield(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "params", "type")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    params: _struct_pb2.Struct
    type: str
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., type: _Optional[str] = ...) -> None: ...
