"""Checking a fine-tuning request and turning it into the trainer's spec: every bound a 400
naming its field, before a job is accepted (the worker builds the same spec again)."""

from __future__ import annotations

from typing import Any

from stackmesh.post_training.v1 import post_training_pb2 as types_pb
from stackmesh.post_training.v1 import post_training_service_pb2 as pb
from stackmesh_common.errors import InvalidArgument
from stackmesh_post_training.settings import Limits
from stackmesh_post_training.training.spec import DpoSpec, LoraSpec, TrainingSpec

# Modules of the Llama architecture (SmolLM2's) that LoRA may adapt.
ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
OUTPUT_MODULE = "lm_head"
OPTIMIZERS = ("adamw", "adam", "sgd")
DTYPES = ("bf16", "fp16", "fp32")
DPO_LOSSES = ("sigmoid", "hinge", "ipo")
DATA_FORMATS = ("instruct", "dialog")


def _range(value: float, low: float, high: float, param: str, *, low_open: bool = False, high_open: bool = False) -> None:
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lower = f"above {low:g}" if low_open else f"at least {low:g}"
        upper = f"below {high:g}" if high_open else f"at most {high:g}"
        raise InvalidArgument(f"`{param}` must be {lower} and {upper}, got {value:g}", param=param)


def _lora(config: types_pb.AlgorithmConfig, limits: Limits) -> LoraSpec | None:
    """None (full fine-tuning) when no algorithm is given."""
    param = "algorithm_config"
    if not config.type:
        return None
    if config.type != "LoRA":
        raise InvalidArgument(
            f"`{param}.type` {config.type!r} is not supported: use 'LoRA', or leave algorithm_config out for full fine-tuning",
            param=f"{param}.type",
        )
    if not config.HasField("rank"):
        raise InvalidArgument(f"`{param}.rank` is required for LoRA", param=f"{param}.rank")
    _range(config.rank, 1, limits.max_rank, f"{param}.rank")
    alpha = config.alpha if config.HasField("alpha") else 2 * config.rank
    _range(alpha, 1, 4096, f"{param}.alpha")
    dropout = config.dropout if config.HasField("dropout") else 0.05
    _range(dropout, 0, 1, f"{param}.dropout", high_open=True)
    if config.quantize_base:
        raise InvalidArgument("`algorithm_config.quantize_base` (QLoRA) is not supported", param=f"{param}.quantize_base")
    modules = list(config.lora_attn_modules) or ["q_proj", "v_proj"]
    for index, module in enumerate(modules):
        if module not in ATTENTION_MODULES:
            raise InvalidArgument(
                f"`{param}.lora_attn_modules[{index}]` {module!r} is not an attention module; use {', '.join(ATTENTION_MODULES)}",
                param=f"{param}.lora_attn_modules[{index}]",
            )
    if config.apply_lora_to_mlp:
        modules += MLP_MODULES
    if config.apply_lora_to_output:
        modules.append(OUTPUT_MODULE)
    return LoraSpec(rank=config.rank, alpha=alpha, dropout=dropout, target_modules=modules, use_dora=config.use_dora)


def training_spec(config: types_pb.TrainingConfig, algorithm: types_pb.AlgorithmConfig, limits: Limits) -> TrainingSpec:
    param = "training_config"
    _range(config.n_epochs, 1, 1000, f"{param}.n_epochs")
    steps_per_epoch = config.max_steps_per_epoch if config.HasField("max_steps_per_epoch") else 1
    _range(steps_per_epoch, 1, limits.max_steps, f"{param}.max_steps_per_epoch")
    if config.n_epochs * steps_per_epoch > limits.max_steps:
        raise InvalidArgument(
            f"n_epochs × max_steps_per_epoch is {config.n_epochs * steps_per_epoch} steps; at most {limits.max_steps}",
            param=f"{param}.max_steps_per_epoch",
        )
    accumulation = config.gradient_accumulation_steps if config.HasField("gradient_accumulation_steps") else 1
    _range(accumulation, 1, 1024, f"{param}.gradient_accumulation_steps")
    data = config.data_config
    if not data.dataset_id:
        raise InvalidArgument(f"`{param}.data_config.dataset_id` is required", param=f"{param}.data_config.dataset_id")
    _range(data.batch_size, 1, limits.max_batch_size, f"{param}.data_config.batch_size")
    if data.data_format and data.data_format not in DATA_FORMATS:
        raise InvalidArgument(
            f"`{param}.data_config.data_format` must be one of {', '.join(DATA_FORMATS)}, got {data.data_format!r}",
            param=f"{param}.data_config.data_format",
        )
    optimizer = config.optimizer_config
    kind = optimizer.optimizer_type.lower() or "adamw"
    if kind not in OPTIMIZERS:
        raise InvalidArgument(
            f"`{param}.optimizer_config.optimizer_type` must be one of {', '.join(OPTIMIZERS)}, got {optimizer.optimizer_type!r}",
            param=f"{param}.optimizer_config.optimizer_type",
        )
    _range(optimizer.lr, 0, 1, f"{param}.optimizer_config.lr", low_open=True)
    _range(optimizer.weight_decay, 0, 1, f"{param}.optimizer_config.weight_decay")
    _range(optimizer.num_warmup_steps, 0, limits.max_steps, f"{param}.optimizer_config.num_warmup_steps")
    dtype = config.dtype if config.HasField("dtype") else None
    if dtype is not None and dtype not in DTYPES:
        raise InvalidArgument(f"`{param}.dtype` must be one of {', '.join(DTYPES)}, got {dtype!r}", param=f"{param}.dtype")
    save_every = config.save_every_n_steps if config.HasField("save_every_n_steps") else 50
    _range(save_every, 1, limits.max_steps, f"{param}.save_every_n_steps")
    max_seq_len = config.max_seq_len if config.HasField("max_seq_len") else 1024
    _range(max_seq_len, 16, limits.max_seq_len, f"{param}.max_seq_len")
    max_grad_norm = config.max_grad_norm if config.HasField("max_grad_norm") else 1.0
    _range(max_grad_norm, 0, 1e6, f"{param}.max_grad_norm")
    return TrainingSpec(
        lora=_lora(algorithm, limits),
        n_epochs=config.n_epochs,
        max_steps_per_epoch=steps_per_epoch,
        batch_size=data.batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=optimizer.lr,
        warmup_steps=optimizer.num_warmup_steps,
        optimizer=kind,
        weight_decay=optimizer.weight_decay,
        max_grad_norm=max_grad_norm,
        seed=config.seed if config.HasField("seed") else 42,
        dtype=dtype,
        max_seq_len=max_seq_len,
        checkpoint_every_steps=save_every,
        train_on_input=data.train_on_input,
        shuffle=data.shuffle,
    )


def dpo_spec(config: types_pb.DPOAlignmentConfig) -> DpoSpec:
    _range(config.beta, 0, 100, "algorithm_config.beta", low_open=True)
    loss = config.loss_type if config.HasField("loss_type") else "sigmoid"
    if loss not in DPO_LOSSES:
        raise InvalidArgument(f"`algorithm_config.loss_type` must be one of {', '.join(DPO_LOSSES)}, got {loss!r}", param="algorithm_config.loss_type")
    return DpoSpec(beta=config.beta, loss_type=loss)


def job_specs(payload: pb.PostTrainingRunJob, limits: Limits) -> tuple[TrainingSpec, DpoSpec | None]:
    """The trainer's specs of a job: checked when it is submitted, built again by its worker."""
    if payload.HasField("preference_optimize"):
        request = payload.preference_optimize
        # DPO adapts the model with LoRA (the frozen base is its own reference model).
        dpo = dpo_spec(request.algorithm_config)
        lora = types_pb.AlgorithmConfig(type="LoRA", rank=8, alpha=16)
        return training_spec(request.training_config, lora, limits), dpo
    request = payload.supervised_fine_tune
    return training_spec(request.training_config, request.algorithm_config, limits), None


def describe(payload: pb.PostTrainingRunJob) -> dict[str, Any]:
    """What the job record's metadata says about it (listed by GET …/jobs)."""
    if payload.HasField("preference_optimize"):
        return {"algorithm": "dpo", "model": payload.base_model, "dataset_id": payload.preference_optimize.training_config.data_config.dataset_id}
    request = payload.supervised_fine_tune
    algorithm = "lora" if request.algorithm_config.type == "LoRA" else "full"
    return {"algorithm": algorithm, "model": payload.base_model, "dataset_id": request.training_config.data_config.dataset_id}
