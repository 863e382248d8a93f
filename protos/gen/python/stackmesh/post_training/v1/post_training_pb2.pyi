from google.protobuf import struct_pb2 as _struct_pb2
from stackmesh.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlgorithmConfig(_message.Message):
    __slots__ = ("type", "lora_attn_modules", "apply_lora_to_mlp", "apply_lora_to_output", "rank", "alpha", "use_dora", "quantize_base", "quantizer_name", "group_size", "dropout")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LORA_ATTN_MODULES_FIELD_NUMBER: _ClassVar[int]
    APPLY_LORA_TO_MLP_FIELD_NUMBER: _ClassVar[int]
    APPLY_LORA_TO_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    USE_DORA_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_BASE_FIELD_NUMBER: _ClassVar[int]
    QUANTIZER_NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    type: str
    lora_attn_modules: _containers.RepeatedScalarFieldContainer[str]
    apply_lora_to_mlp: bool
    apply_lora_to_output: bool
    rank: int
    alpha: int
    use_dora: bool
    quantize_base: bool
    quantizer_name: str
    group_size: int
    dropout: float
    def __init__(self, type: _Optional[str] = ..., lora_attn_modules: _Optional[_Iterable[str]] = ..., apply_lora_to_mlp: _Optional[bool] = ..., apply_lora_to_output: _Optional[bool] = ..., rank: _Optional[int] = ..., alpha: _Optional[int] = ..., use_dora: _Optional[bool] = ..., quantize_base: _Optional[bool] = ..., quantizer_name: _Optional[str] = ..., group_size: _Optional[int] = ..., dropout: _Optional[float] = ...) -> None: ...

class DPOAlignmentConfig(_message.Message):
    __slots__ = ("beta", "loss_type")
    BETA_FIELD_NUMBER: _ClassVar[int]
    LOSS_TYPE_FIELD_NUMBER: _ClassVar[int]
    beta: float
    loss_type: str
    def __init__(self, beta: _Optional[float] = ..., loss_type: _Optional[str] = ...) -> None: ...

class DataConfig(_message.Message):
    __slots__ = ("dataset_id", "batch_size", "shuffle", "data_format", "validation_dataset_id", "packed", "train_on_input")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    DATA_FORMAT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ON_INPUT_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    batch_size: int
    shuffle: bool
    data_format: str
    validation_dataset_id: str
    packed: bool
    train_on_input: bool
    def __init__(self, dataset_id: _Optional[str] = ..., batch_size: _Optional[int] = ..., shuffle: _Optional[bool] = ..., data_format: _Optional[str] = ..., validation_dataset_id: _Optional[str] = ..., packed: _Optional[bool] = ..., train_on_input: _Optional[bool] = ...) -> None: ...

class OptimizerConfig(_message.Message):
    __slots__ = ("optimizer_type", "lr", "weight_decay", "num_warmup_steps")
    OPTIMIZER_TYPE_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    NUM_WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    optimizer_type: str
    lr: float
    weight_decay: float
    num_warmup_steps: int
    def __init__(self, optimizer_type: _Optional[str] = ..., lr: _Optional[float] = ..., weight_decay: _Optional[float] = ..., num_warmup_steps: _Optional[int] = ...) -> None: ...

class EfficiencyConfig(_message.Message):
    __slots__ = ("enable_activation_checkpointing", "enable_activation_offloading", "memory_efficient_fsdp_wrap", "fsdp_cpu_offload")
    ENABLE_ACTIVATION_CHECKPOINTING_FIELD_NUMBER: _ClassVar[int]
    ENABLE_ACTIVATION_OFFLOADING_FIELD_NUMBER: _ClassVar[int]
    MEMORY_EFFICIENT_FSDP_WRAP_FIELD_NUMBER: _ClassVar[int]
    FSDP_CPU_OFFLOAD_FIELD_NUMBER: _ClassVar[int]
    enable_activation_checkpointing: bool
    enable_activation_offloading: bool
    memory_efficient_fsdp_wrap: bool
    fsdp_cpu_offload: bool
    def __init__(self, enable_activation_checkpointing: _Optional[bool] = ..., enable_activation_offloading: _Optional[bool] = ..., memory_efficient_fsdp_wrap: _Optional[bool] = ..., fsdp_cpu_offload: _Optional[bool] = ...) -> None: ...

class TrainingConfig(_message.Message):
    __slots__ = ("n_epochs", "max_steps_per_epoch", "gradient_accumulation_steps", "max_validation_steps", "data_config", "optimizer_config", "efficiency_config", "dtype", "seed", "save_every_n_steps", "max_seq_len", "max_grad_norm")
    N_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_ACCUMULATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_VALIDATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    DATA_CONFIG_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    EFFICIENCY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SAVE_EVERY_N_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    n_epochs: int
    max_steps_per_epoch: int
    gradient_accumulation_steps: int
    max_validation_steps: int
    data_config: DataConfig
    optimizer_config: OptimizerConfig
    efficiency_config: EfficiencyConfig
    dtype: str
    seed: int
    save_every_n_steps: int
    max_seq_len: int
    max_grad_norm: float
    def __init__(self, n_epochs: _Optional[int] = ..., max_steps_per_epoch: _Optional[int] = ..., gradient_accumulation_steps: _Optional[int] = ..., max_validation_steps: _Optional[int] = ..., data_config: _Optional[_Union[DataConfig, _Mapping]] = ..., optimizer_config: _Optional[_Union[OptimizerConfig, _Mapping]] = ..., efficiency_config: _Optional[_Union[EfficiencyConfig, _Mapping]] = ..., dtype: _Optional[str] = ..., seed: _Optional[int] = ..., save_every_n_steps: _Optional[int] = ..., max_seq_len: _Optional[int] = ..., max_grad_norm: _Optional[float] = ...) -> None: ...

class TrainingStep(_message.Message):
    __slots__ = ("step", "epoch", "loss", "learning_rate", "tokens_per_second", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STEP_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    step: int
    epoch: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, step: _Optional[int] = ..., epoch: _Optional[int] = ..., loss: _Optional[float] = ..., learning_rate: _Optional[float] = ..., tokens_per_second: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class PostTrainingJob(_message.Message):
    __slots__ = ("job_uuid", "job")
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    job: _job_pb2.Job
    def __init__(self, job_uuid: _Optional[str] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class PostTrainingMetric(_message.Message):
    __slots__ = ("epoch", "train_loss", "validation_loss", "perplexity")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    train_loss: float
    validation_loss: float
    perplexity: float
    def __init__(self, epoch: _Optional[int] = ..., train_loss: _Optional[float] = ..., validation_loss: _Optional[float] = ..., perplexity: _Optional[float] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("identifier", "created_at", "epoch", "post_training_job_id", "path", "training_metrics")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    POST_TRAINING_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TRAINING_METRICS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    created_at: str
    epoch: int
    post_training_job_id: str
    path: str
    training_metrics: PostTrainingMetric
    def __init__(self, identifier: _Optional[str] = ..., created_at: _Optional[str] = ..., epoch: _Optional[int] = ..., post_training_job_id: _Optional[str] = ..., path: _Optional[str] = ..., training_metrics: _Optional[_Union[PostTrainingMetric, _Mapping]] = ...) -> None: ...

class PostTrainingJobStatusResponse(_message.Message):
    __slots__ = ("job_uuid", "status", "scheduled_at", "started_at", "completed_at", "resources_allocated", "checkpoints", "job", "steps")
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    status: str
    scheduled_at: str
    started_at: str
    completed_at: str
    resources_allocated: _struct_pb2.Struct
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    job: _job_pb2.Job
    steps: _containers.RepeatedCompositeFieldContainer[TrainingStep]
    def __init__(self, job_uuid: _Optional[str] = ..., status: _Optional[str] = ..., scheduled_at: _Optional[str] = ..., started_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., resources_allocated: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[TrainingStep, _Mapping]]] = ...) -> None: ...

class PostTrainingJobArtifactsResponse(_message.Message):
    __slots__ = ("job_uuid", "checkpoints")
    JOB_UUID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    job_uuid: str
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    def __init__(self, job_uuid: _Optional[str] = ..., checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ...) -> None: ...
