from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataSource(_message.Message):
    __slots__ = ("type", "uri", "rows")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    type: str
    uri: str
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, type: _Optional[str] = ..., uri: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("identifier", "provider_resource_id", "provider_id", "type", "purpose", "source", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_resource_id: str
    provider_id: str
    type: str
    purpose: str
    source: DataSource
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., type: _Optional[str] = ..., purpose: _Optional[str] = ..., source: _Optional[_Union[DataSource, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
