from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoringFnParams(_message.Message):
    __slots__ = ("type", "judge_model", "prompt_template", "judge_score_regexes", "parsing_regexes", "aggregation_functions", "judge_output_regex")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    JUDGE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    JUDGE_SCORE_REGEXES_FIELD_NUMBER: _ClassVar[int]
    PARSING_REGEXES_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    JUDGE_OUTPUT_REGEX_FIELD_NUMBER: _ClassVar[int]
    type: str
    judge_model: str
    prompt_template: str
    judge_score_regexes: _containers.RepeatedScalarFieldContainer[str]
    parsing_regexes: _containers.RepeatedScalarFieldContainer[str]
    aggregation_functions: _containers.RepeatedScalarFieldContainer[str]
    judge_output_regex: str
    def __init__(self, type: _Optional[str] = ..., judge_model: _Optional[str] = ..., prompt_template: _Optional[str] = ..., judge_score_regexes: _Optional[_Iterable[str]] = ..., parsing_regexes: _Optional[_Iterable[str]] = ..., aggregation_functions: _Optional[_Iterable[str]] = ..., judge_output_regex: _Optional[str] = ...) -> None: ...

class ParamType(_message.Message):
    __slots__ = ("type",)
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: str
    def __init__(self, type: _Optional[str] = ...) -> None: ...

class ScoringFn(_message.Message):
    __slots__ = ("identifier", "provider_resource_id", "provider_id", "type", "description", "metadata", "return_type", "params")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RETURN_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_resource_id: str
    provider_id: str
    type: str
    description: str
    metadata: _struct_pb2.Struct
    return_type: ParamType
    params: ScoringFnParams
    def __init__(self, identifier: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., return_type: _Optional[_Union[ParamType, _Mapping]] = ..., params: _Optional[_Union[ScoringFnParams, _Mapping]] = ...) -> None: ...

class ScoringResult(_message.Message):
    __slots__ = ("score_rows", "aggregated_results")
    SCORE_ROWS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATED_RESULTS_FIELD_NUMBER: _ClassVar[int]
    score_rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    aggregated_results: _struct_pb2.Struct
    def __init__(self, score_rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., aggregated_results: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
