from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Prompt(_message.Message):
    __slots__ = ("prompt", "version", "prompt_id", "variables", "is_default")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROMPT_ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    version: int
    prompt_id: str
    variables: _containers.RepeatedScalarFieldContainer[str]
    is_default: bool
    def __init__(self, prompt: _Optional[str] = ..., version: _Optional[int] = ..., prompt_id: _Optional[str] = ..., variables: _Optional[_Iterable[str]] = ..., is_default: _Optional[bool] = ...) -> None: ...

class ListPromptsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Prompt]
    def __init__(self, data: _Optional[_Iterable[_Union[Prompt, _Mapping]]] = ...) -> None: ...
