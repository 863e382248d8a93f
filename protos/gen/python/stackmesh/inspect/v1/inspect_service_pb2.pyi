from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthInfo(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VersionInfo(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProvidersResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[ProviderInfo]
    def __init__(self, data: _Optional[_Iterable[_Union[ProviderInfo, _Mapping]]] = ...) -> None: ...

class GetProviderRequest(_message.Message):
    __slots__ = ("provider_id",)
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    def __init__(self, provider_id: _Optional[str] = ...) -> None: ...

class ProviderInfo(_message.Message):
    __slots__ = ("api", "provider_id", "provider_type", "config", "health")
    API_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    api: str
    provider_id: str
    provider_type: str
    config: _struct_pb2.Struct
    health: _struct_pb2.Struct
    def __init__(self, api: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_type: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., health: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListRoutesRequest(_message.Message):
    __slots__ = ("api_filter",)
    API_FILTER_FIELD_NUMBER: _ClassVar[int]
    api_filter: str
    def __init__(self, api_filter: _Optional[str] = ...) -> None: ...

class ListRoutesResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[RouteInfo]
    def __init__(self, data: _Optional[_Iterable[_Union[RouteInfo, _Mapping]]] = ...) -> None: ...

class RouteInfo(_message.Message):
    __slots__ = ("route", "method", "provider_types")
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TYPES_FIELD_NUMBER: _ClassVar[int]
    route: str
    method: str
    provider_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, route: _Optional[str] = ..., method: _Optional[str] = ..., provider_types: _Optional[_Iterable[str]] = ...) -> None: ...
