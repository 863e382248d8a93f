from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.common.v1 import access_pb2 as _access_pb2
from stackmesh.common.v1 import chat_pb2 as _chat_pb2
from stackmesh.safety.v1 import shield_pb2 as _shield_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListShieldsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListShieldsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_shield_pb2.Shield]
    def __init__(self, data: _Optional[_Iterable[_Union[_shield_pb2.Shield, _Mapping]]] = ...) -> None: ...

class GetShieldRequest(_message.Message):
    __slots__ = ("identifier",)
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    def __init__(self, identifier: _Optional[str] = ...) -> None: ...

class RegisterShieldRequest(_message.Message):
    __slots__ = ("shield_id", "provider_shield_id", "provider_id", "params")
    SHIELD_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_SHIELD_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    shield_id: str
    provider_shield_id: str
    provider_id: str
    params: _struct_pb2.Struct
    def __init__(self, shield_id: _Optional[str] = ..., provider_shield_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UnregisterShieldRequest(_message.Message):
    __slots__ = ("identifier",)
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    def __init__(self, identifier: _Optional[str] = ...) -> None: ...

class RunShieldRequest(_message.Message):
    __slots__ = ("shield_id", "messages", "params")
    SHIELD_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    shield_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.ChatMessage]
    params: _struct_pb2.Struct
    def __init__(self, shield_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_chat_pb2.ChatMessage, _Mapping]]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RunShieldResponse(_message.Message):
    __slots__ = ("violation",)
    VIOLATION_FIELD_NUMBER: _ClassVar[int]
    violation: SafetyViolation
    def __init__(self, violation: _Optional[_Union[SafetyViolation, _Mapping]] = ...) -> None: ...

class SafetyViolation(_message.Message):
    __slots__ = ("violation_level", "user_message", "metadata")
    VIOLATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    violation_level: str
    user_message: str
    metadata: _struct_pb2.Struct
    def __init__(self, violation_level: _Optional[str] = ..., user_message: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreateModerationRequest(_message.Message):
    __slots__ = ("input", "model")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    input: _struct_pb2.Value
    model: str
    def __init__(self, input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., model: _Optional[str] = ...) -> None: ...

class ModerationObject(_message.Message):
    __slots__ = ("id", "model", "results")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    results: _containers.RepeatedCompositeFieldContainer[ModerationResult]
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., results: _Optional[_Iterable[_Union[ModerationResult, _Mapping]]] = ...) -> None: ...

class ModerationResult(_message.Message):
    __slots__ = ("flagged", "categories", "category_scores", "category_applied_input_types", "user_message", "metadata")
    class CategoriesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    class CategoryScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CategoryAppliedInputTypesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.ListValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ...) -> None: ...
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_SCORES_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_APPLIED_INPUT_TYPES_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    flagged: bool
    categories: _containers.ScalarMap[str, bool]
    category_scores: _containers.ScalarMap[str, float]
    category_applied_input_types: _containers.MessageMap[str, _struct_pb2.ListValue]
    user_message: str
    metadata: _struct_pb2.Struct
    def __init__(self, flagged: _Optional[bool] = ..., categories: _Optional[_Mapping[str, bool]] = ..., category_scores: _Optional[_Mapping[str, float]] = ..., category_applied_input_types: _Optional[_Mapping[str, _struct_pb2.ListValue]] = ..., user_message: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
