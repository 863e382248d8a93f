"""What SFT and DPO runs share: Trainer arguments, the order rows are seen in, the callback
that relays steps and checkpoints and honours stops, resuming, and failures as TrainingErrors.

Resuming relies on the Trainer's own checkpoints (weights, optimizer, scheduler, RNG states,
step counters) and on a row order that is a pure function of (seed, epoch): the Trainer skips
the batches of the current epoch it already trained on, and the next ones are the same as in
the run that was killed.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import datasets
import torch
import transformers
from peft import LoraConfig
from transformers import PrinterCallback, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from stackmesh_post_training.training import checkpoints
from stackmesh_post_training.training.errors import TrainingError
from stackmesh_post_training.training.hooks import CheckpointInfo, Hooks, StepMetrics, TrainingResult
from stackmesh_post_training.training.spec import LoraSpec, TrainingSpec

_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adamw": torch.optim.AdamW,
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
}
# Keys of a Trainer log that StepMetrics carries in fields of its own, or that are totals
# (besides the run's speed so far, `train_*`).
_NOT_EXTRA = {"loss", "learning_rate", "epoch", "num_input_tokens_seen", "num_tokens"}


def quiet() -> None:
    """No progress bars in a worker's log (process-wide, as the libraries only allow)."""
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()


def weights_dtype(spec: TrainingSpec, dtype: torch.dtype) -> torch.dtype:
    """The dtype to load weights in: fp16 mixed precision keeps fp32 weights for what it
    trains (loss scaling cannot unscale fp16 gradients), so only a frozen LoRA base is fp16."""
    return torch.float32 if dtype == torch.float16 and spec.lora is None else dtype


def lora_config(lora: LoraSpec) -> LoraConfig:
    return LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        use_dora=lora.use_dora,
        task_type="CAUSAL_LM",
    )


def arguments(spec: TrainingSpec, output_dir: Path, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """TrainingArguments (and trl configs) fields every run sets."""
    return {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": spec.batch_size,
        "gradient_accumulation_steps": spec.gradient_accumulation_steps,
        "max_steps": spec.total_steps,
        "learning_rate": spec.learning_rate,
        # Llama Stack's schedule: linear warmup, then cosine decay.
        "lr_scheduler_type": "cosine",
        "warmup_steps": spec.warmup_steps,
        "weight_decay": spec.weight_decay,
        "max_grad_norm": spec.max_grad_norm,
        "seed": spec.seed,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "use_cpu": device.type == "cpu",
        # trl turns it on by default; a run that needs the memory lowers batch_size instead.
        "activation_checkpointing": False,
        "logging_strategy": "steps",
        "logging_steps": 1,
        # The Trainer would log a NaN loss as the mean of earlier ones.
        "logging_nan_inf_filter": False,
        "include_num_input_tokens_seen": "non_padding",
        # Relay adds the checkpoint of the last step.
        "save_strategy": "steps" if spec.checkpoint_every_steps else "no",
        **({"save_steps": spec.checkpoint_every_steps} if spec.checkpoint_every_steps else {}),
        "report_to": "none",
        "disable_tqdm": True,
        "push_to_hub": False,
        "dataloader_pin_memory": device.type == "cuda",
    }


class EpochSampler(torch.utils.data.Sampler[int]):
    """The rows of one epoch: exactly enough for its optimizer steps, taken from consecutive
    passes over the dataset, each pass a permutation fixed by (seed, pass)."""

    def __init__(self, n_rows: int, spec: TrainingSpec) -> None:
        self.n_rows = n_rows
        self.epoch_rows = spec.max_steps_per_epoch * spec.gradient_accumulation_steps * spec.batch_size
        self.seed = spec.seed
        self.shuffle = spec.shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.epoch_rows

    def _order(self, n_pass: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.n_rows))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + n_pass)
        return torch.randperm(self.n_rows, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * self.epoch_rows
        n_pass, order = -1, []
        for position in range(start, start + self.epoch_rows):
            if position // self.n_rows != n_pass:
                n_pass = position // self.n_rows
                order = self._order(n_pass)
            yield order[position % self.n_rows]


class RunMixin:
    """Before a Trainer class: rows in EpochSampler's order, and the spec's optimizer."""

    def __init__(self, *args: Any, sampler: EpochSampler, spec: TrainingSpec, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epoch_sampler = sampler
        # Trainer's own optimizer names have no plain Adam; this sets any torch optimizer, with
        # its usual parameter groups (no weight decay on biases and norms).
        self.optimizer_cls_and_kwargs = (_OPTIMIZERS[spec.optimizer], {"lr": spec.learning_rate})

    def _get_train_sampler(self, train_dataset: Any = None) -> EpochSampler:
        return self._epoch_sampler


class Relay(TrainerCallback):
    """Reports each step and checkpoint through the hooks, stops when asked, and refuses to
    go on from a NaN loss."""

    def __init__(self, hooks: Hooks, spec: TrainingSpec, output_dir: Path) -> None:
        self.hooks = hooks
        self.steps_per_epoch = spec.max_steps_per_epoch
        self.output_dir = output_dir
        self.stopped = False
        self._step_started = 0.0
        self._step_seconds = 0.0
        self._tokens_seen = 0
        self._loss = math.nan

    def epoch_of(self, step: int) -> int:
        return (step - 1) // self.steps_per_epoch + 1

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self._tokens_seen = state.num_input_tokens_seen  # a resumed run's state is restored by now

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self._step_started = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self._step_seconds = time.perf_counter() - self._step_started
        last = state.global_step >= state.max_steps
        if not last and self.hooks.should_stop():
            self.stopped = True
        if last or self.stopped:
            # Every run ends on a checkpoint of its last step, the one export and resume read.
            control.should_training_stop = True
            control.should_save = True

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or "loss" not in logs:
            return  # the summary at the end of training
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            # Raised before this step's checkpoint is saved, so none holds diverged weights.
            kind = "NaN" if math.isnan(loss) else "infinite"
            raise TrainingError(f"the loss became {kind} at step {state.global_step}; lower the learning rate")
        tokens = state.num_input_tokens_seen - self._tokens_seen
        self._tokens_seen = state.num_input_tokens_seen
        self._loss = loss
        extra = {
            key: float(value)
            for key, value in logs.items()
            if key not in _NOT_EXTRA and not key.startswith("train_") and isinstance(value, (int, float))
        }
        self.hooks.on_step(
            StepMetrics(
                step=state.global_step,
                epoch=self.epoch_of(state.global_step),
                loss=loss,
                learning_rate=float(logs["learning_rate"]),
                tokens=tokens,
                tokens_per_s=tokens / self._step_seconds if self._step_seconds > 0 else 0.0,
                extra=extra,
            )
        )

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        step = state.global_step
        path = checkpoints.path_of(self.output_dir, step)
        info = CheckpointInfo(step=step, epoch=self.epoch_of(step), path=path, train_loss=self._loss)
        checkpoints.mark_complete(info)
        self.hooks.on_checkpoint(info)


@contextmanager
def out_of_memory_as_error(device: torch.device) -> Iterator[None]:
    try:
        yield
    except RuntimeError as exc:  # torch.OutOfMemoryError is one; other backends only say so
        if not isinstance(exc, torch.OutOfMemoryError) and "out of memory" not in str(exc):
            raise
        raise TrainingError(f"out of memory on {device}: lower batch_size or max_seq_len, or train with LoRA") from None


def _last_loss(state: TrainerState) -> float:
    """From the log history a checkpoint carries, so a resumed run that had nothing left to
    do still knows it."""
    return next((float(entry["loss"]) for entry in reversed(state.log_history) if "loss" in entry), math.nan)


def run(trainer: Any, relay: Relay, output_dir: Path) -> TrainingResult:
    """Trains from the latest complete checkpoint in `output_dir`, if there is one."""
    trainer.remove_callback(PrinterCallback)  # it prints every log line to stdout
    checkpoints.discard_incomplete(output_dir)
    resume = checkpoints.latest_complete(output_dir)
    if resume is not None:
        # A run killed between saving a checkpoint and reporting it took the report along.
        relay.hooks.on_checkpoint(checkpoints.info_of(resume))
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    step = trainer.state.global_step
    final = checkpoints.path_of(output_dir, step)
    if not checkpoints.is_complete(final):
        raise TrainingError(f"training ended at step {step} without a complete checkpoint of it")
    return TrainingResult(
        steps=step,
        epochs=step // relay.steps_per_epoch,
        final_checkpoint=final,
        train_loss=_last_loss(trainer.state),
        stopped=relay.stopped,
    )
