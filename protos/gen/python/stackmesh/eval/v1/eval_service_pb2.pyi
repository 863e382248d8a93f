from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.common.v1 import job_pb2 as _job_pb2
from stackmesh.eval.v1 import benchmark_pb2 as _benchmark_pb2
from stackmesh.eval.v1 import dataset_pb2 as _dataset_pb2
from stackmesh.eval.v1 import scoring_pb2 as _scoring_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterDatasetRequest(_message.Message):
    __slots__ = ("purpose", "source", "metadata", "dataset_id")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    purpose: str
    source: _dataset_pb2.DataSource
    metadata: _struct_pb2.Struct
    dataset_id: str
    def __init__(self, purpose: _Optional[str] = ..., source: _Optional[_Union[_dataset_pb2.DataSource, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., dataset_id: _Optional[str] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.Dataset]
    def __init__(self, data: _Optional[_Iterable[_Union[_dataset_pb2.Dataset, _Mapping]]] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class UnregisterDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class IterRowsRequest(_message.Message):
    __slots__ = ("dataset_id", "start_index", "limit")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    start_index: int
    limit: int
    def __init__(self, dataset_id: _Optional[str] = ..., start_index: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class IterRowsResponse(_message.Message):
    __slots__ = ("data", "next_start_index", "has_more", "url")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_INDEX_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    next_start_index: int
    has_more: bool
    url: str
    def __init__(self, data: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., next_start_index: _Optional[int] = ..., has_more: _Optional[bool] = ..., url: _Optional[str] = ...) -> None: ...

class AppendRowsRequest(_message.Message):
    __slots__ = ("dataset_id", "rows")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, dataset_id: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class ListScoringFunctionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListScoringFunctionsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_scoring_pb2.ScoringFn]
    def __init__(self, data: _Optional[_Iterable[_Union[_scoring_pb2.ScoringFn, _Mapping]]] = ...) -> None: ...

class RegisterScoringFunctionRequest(_message.Message):
    __slots__ = ("scoring_fn_id", "description", "return_type", "provider_scoring_fn_id", "provider_id", "params")
    SCORING_FN_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RETURN_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_SCORING_FN_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    scoring_fn_id: str
    description: str
    return_type: _scoring_pb2.ParamType
    provider_scoring_fn_id: str
    provider_id: str
    params: _scoring_pb2.ScoringFnParams
    def __init__(self, scoring_fn_id: _Optional[str] = ..., description: _Optional[str] = ..., return_type: _Optional[_Union[_scoring_pb2.ParamType, _Mapping]] = ..., provider_scoring_fn_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., params: _Optional[_Union[_scoring_pb2.ScoringFnParams, _Mapping]] = ...) -> None: ...

class GetScoringFunctionRequest(_message.Message):
    __slots__ = ("scoring_fn_id",)
    SCORING_FN_ID_FIELD_NUMBER: _ClassVar[int]
    scoring_fn_id: str
    def __init__(self, scoring_fn_id: _Optional[str] = ...) -> None: ...

class UnregisterScoringFunctionRequest(_message.Message):
    __slots__ = ("scoring_fn_id",)
    SCORING_FN_ID_FIELD_NUMBER: _ClassVar[int]
    scoring_fn_id: str
    def __init__(self, scoring_fn_id: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("input_rows", "scoring_functions")
    INPUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    input_rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scoring_functions: _struct_pb2.Struct
    def __init__(self, input_rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scoring_functions: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("results",)
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    def __init__(self, results: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("dataset_id", "scoring_functions", "save_results_dataset")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    SAVE_RESULTS_DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    scoring_functions: _struct_pb2.Struct
    save_results_dataset: bool
    def __init__(self, dataset_id: _Optional[str] = ..., scoring_functions: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., save_results_dataset: _Optional[bool] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("dataset_id", "results")
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    results: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    def __init__(self, dataset_id: _Optional[str] = ..., results: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ...) -> None: ...

class ListBenchmarksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBenchmarksResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_benchmark_pb2.Benchmark]
    def __init__(self, data: _Optional[_Iterable[_Union[_benchmark_pb2.Benchmark, _Mapping]]] = ...) -> None: ...

class RegisterBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark_id", "dataset_id", "scoring_functions", "provider_benchmark_id", "provider_id", "metadata")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    dataset_id: str
    scoring_functions: _containers.RepeatedScalarFieldContainer[str]
    provider_benchmark_id: str
    provider_id: str
    metadata: _struct_pb2.Struct
    def __init__(self, benchmark_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., scoring_functions: _Optional[_Iterable[str]] = ..., provider_benchmark_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark_id",)
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    def __init__(self, benchmark_id: _Optional[str] = ...) -> None: ...

class UnregisterBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark_id",)
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    def __init__(self, benchmark_id: _Optional[str] = ...) -> None: ...

class RunEvalRequest(_message.Message):
    __slots__ = ("benchmark_id", "benchmark_config")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_CONFIG_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    benchmark_config: _benchmark_pb2.BenchmarkConfig
    def __init__(self, benchmark_id: _Optional[str] = ..., benchmark_config: _Optional[_Union[_benchmark_pb2.BenchmarkConfig, _Mapping]] = ...) -> None: ...

class ListEvalJobsRequest(_message.Message):
    __slots__ = ("benchmark_id",)
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    def __init__(self, benchmark_id: _Optional[str] = ...) -> None: ...

class ListEvalJobsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_benchmark_pb2.EvalJob]
    def __init__(self, data: _Optional[_Iterable[_Union[_benchmark_pb2.EvalJob, _Mapping]]] = ...) -> None: ...

class GetEvalJobRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class CancelEvalJobRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class GetEvalJobResultRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class WatchEvalJobRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class EvaluateRowsRequest(_message.Message):
    __slots__ = ("benchmark_id", "input_rows", "scoring_functions", "benchmark_config")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_CONFIG_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    input_rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scoring_functions: _containers.RepeatedScalarFieldContainer[str]
    benchmark_config: _benchmark_pb2.BenchmarkConfig
    def __init__(self, benchmark_id: _Optional[str] = ..., input_rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scoring_functions: _Optional[_Iterable[str]] = ..., benchmark_config: _Optional[_Union[_benchmark_pb2.BenchmarkConfig, _Mapping]] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("generations", "scores")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    generations: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scores: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    def __init__(self, generations: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scores: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ...) -> None: ...

class EvalRunJob(_message.Message):
    __slots__ = ("benchmark_id", "benchmark_config", "row_count", "scoring")
    class ScoringEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringFnParams
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringFnParams, _Mapping]] = ...) -> None: ...
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_CONFIG_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    SCORING_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    benchmark_config: _benchmark_pb2.BenchmarkConfig
    row_count: int
    scoring: _containers.MessageMap[str, _scoring_pb2.ScoringFnParams]
    def __init__(self, benchmark_id: _Optional[str] = ..., benchmark_config: _Optional[_Union[_benchmark_pb2.BenchmarkConfig, _Mapping]] = ..., row_count: _Optional[int] = ..., scoring: _Optional[_Mapping[str, _scoring_pb2.ScoringFnParams]] = ...) -> None: ...

class EvalShardJob(_message.Message):
    __slots__ = ("eval_job_id", "start_index", "stop_index")
    EVAL_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    STOP_INDEX_FIELD_NUMBER: _ClassVar[int]
    eval_job_id: str
    start_index: int
    stop_index: int
    def __init__(self, eval_job_id: _Optional[str] = ..., start_index: _Optional[int] = ..., stop_index: _Optional[int] = ...) -> None: ...
