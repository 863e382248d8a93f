from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateRequest(_message.Message):
    __slots__ = ("dialogs", "filtering_function", "model", "num_candidates", "max_tokens", "temperature", "scoring_function", "scoring_params", "top_k", "top_p", "threshold", "dataset_id")
    DIALOGS_FIELD_NUMBER: _ClassVar[int]
    FILTERING_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NUM_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    SCORING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dialogs: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    filtering_function: str
    model: str
    num_candidates: int
    max_tokens: int
    temperature: float
    scoring_function: str
    scoring_params: _struct_pb2.Struct
    top_k: int
    top_p: float
    threshold: float
    dataset_id: str
    def __init__(self, dialogs: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., filtering_function: _Optional[str] = ..., model: _Optional[str] = ..., num_candidates: _Optional[int] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., scoring_function: _Optional[str] = ..., scoring_params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., threshold: _Optional[float] = ..., dataset_id: _Optional[str] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class ListGenerationJobsRequest(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListGenerationJobsResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_job_pb2.Job]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[_job_pb2.Job, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetGenerationJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelGenerationJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchGenerationJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetGenerationResultRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class SyntheticDataGenerationResponse(_message.Message):
    __slots__ = ("synthetic_data", "statistics")
    SYNTHETIC_DATA_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    synthetic_data: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    statistics: _struct_pb2.Struct
    def __init__(self, synthetic_data: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., statistics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
