from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.common.v1 import job_pb2 as _job_pb2
from stackmesh.eval.v1 import scoring_pb2 as _scoring_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Benchmark(_message.Message):
    __slots__ = ("identifier", "provider_resource_id", "provider_id", "type", "dataset_id", "scoring_functions", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_resource_id: str
    provider_id: str
    type: str
    dataset_id: str
    scoring_functions: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., type: _Optional[str] = ..., dataset_id: _Optional[str] = ..., scoring_functions: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

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

class SystemMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: _struct_pb2.Value
    def __init__(self, role: _Optional[str] = ..., content: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class EvalCandidate(_message.Message):
    __slots__ = ("type", "model", "sampling_params", "system_message", "config")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    type: str
    model: str
    sampling_params: SamplingParams
    system_message: SystemMessage
    config: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., model: _Optional[str] = ..., sampling_params: _Optional[_Union[SamplingParams, _Mapping]] = ..., system_message: _Optional[_Union[SystemMessage, _Mapping]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class BenchmarkConfig(_message.Message):
    __slots__ = ("eval_candidate", "scoring_params", "num_examples")
    class ScoringParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringFnParams
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringFnParams, _Mapping]] = ...) -> None: ...
    EVAL_CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    SCORING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    eval_candidate: EvalCandidate
    scoring_params: _containers.MessageMap[str, _scoring_pb2.ScoringFnParams]
    num_examples: int
    def __init__(self, eval_candidate: _Optional[_Union[EvalCandidate, _Mapping]] = ..., scoring_params: _Optional[_Mapping[str, _scoring_pb2.ScoringFnParams]] = ..., num_examples: _Optional[int] = ...) -> None: ...

class EvalJob(_message.Message):
    __slots__ = ("job_id", "status", "job")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    status: str
    job: _job_pb2.Job
    def __init__(self, job_id: _Optional[str] = ..., status: _Optional[str] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...
