from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.common.v1 import job_pb2 as _job_pb2
from stackmesh.post_training.v1 import post_training_pb2 as _post_training_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SupervisedFineTuneRequest(_message.Message):
    __slots__ = ("job_uuid", "training_config", "hyperparam_search_config", "logger_config", "model", "checkpoint_dir", "algorithm_config")
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAM_SEARCH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    LOGGER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_DIR_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    training_config: _post_training_pb2.TrainingConfig
    hyperparam_search_config: _struct_pb2.Struct
    logger_config: _struct_pb2.Struct
    model: str
    checkpoint_dir: str
    algorithm_config: _post_training_pb2.AlgorithmConfig
    def __init__(self, job_uuid: _Optional[str] = ..., training_config: _Optional[_Union[_post_training_pb2.TrainingConfig, _Mapping]] = ..., hyperparam_search_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., logger_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., model: _Optional[str] = ..., checkpoint_dir: _Optional[str] = ..., algorithm_config: _Optional[_Union[_post_training_pb2.AlgorithmConfig, _Mapping]] = ...) -> None: ...

class PreferenceOptimizeRequest(_message.Message):
    __slots__ = ("job_uuid", "finetuned_model", "algorithm_config", "training_config", "hyperparam_search_config", "logger_config")
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    FINETUNED_MODEL_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAM_SEARCH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    LOGGER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    finetuned_model: str
    algorithm_config: _post_training_pb2.DPOAlignmentConfig
    training_config: _post_training_pb2.TrainingConfig
    hyperparam_search_config: _struct_pb2.Struct
    logger_config: _struct_pb2.Struct
    def __init__(self, job_uuid: _Optional[str] = ..., finetuned_model: _Optional[str] = ..., algorithm_config: _Optional[_Union[_post_training_pb2.DPOAlignmentConfig, _Mapping]] = ..., training_config: _Optional[_Union[_post_training_pb2.TrainingConfig, _Mapping]] = ..., hyperparam_search_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., logger_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[_post_training_pb2.PostTrainingJob]
    def __init__(self, data: _Optional[_Iterable[_Union[_post_training_pb2.PostTrainingJob, _Mapping]]] = ...) -> None: ...

class GetJobStatusRequest(_message.Message):
    __slots__ = ("job_uuid",)
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    def __init__(self, job_uuid: _Optional[str] = ...) -> None: ...

class GetJobArtifactsRequest(_message.Message):
    __slots__ = ("job_uuid",)
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    def __init__(self, job_uuid: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_uuid",)
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    def __init__(self, job_uuid: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_uuid",)
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    def __init__(self, job_uuid: _Optional[str] = ...) -> None: ...

class PostTrainingRunJob(_message.Message):
    __slots__ = ("supervised_fine_tune", "preference_optimize", "base_model", "base_path")
    SUPERVISED_FINE_TUNE_FIELD_NUMBER: _ClassVar[int]
    PREFERENCE_OPTIMIZE_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    BASE_PATH_FIELD_NUMBER: _ClassVar[int]
    supervised_fine_tune: SupervisedFineTuneRequest
    preference_optimize: PreferenceOptimizeRequest
    base_model: str
    base_path: str
    def __init__(self, supervised_fine_tune: _Optional[_Union[SupervisedFineTuneRequest, _Mapping]] = ..., preference_optimize: _Optional[_Union[PreferenceOptimizeRequest, _Mapping]] = ..., base_model: _Optional[str] = ..., base_path: _Optional[str] = ...) -> None: ...
