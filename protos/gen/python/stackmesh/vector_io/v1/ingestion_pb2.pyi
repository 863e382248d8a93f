from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class FileIngestionJob(_message.Message):
    __slots__ = ("vector_store_id", "file_id", "generation")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    generation: int
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ..., generation: _Optional[int] = ...) -> None: ...
