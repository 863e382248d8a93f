"""Supervised fine-tuning on conversations, with LoRA or of every weight."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from peft import get_peft_model
from transformers import Trainer, TrainingArguments, set_seed

from stackmesh_post_training.training.data import collate, render_sft
from stackmesh_post_training.training.device import pick_device
from stackmesh_post_training.training.errors import TrainingError
from stackmesh_post_training.training.hooks import Hooks, TrainingResult
from stackmesh_post_training.training.models import load_base
from stackmesh_post_training.training.runner import (
    EpochSampler, Relay, RunMixin, arguments, lora_config, out_of_memory_as_error, quiet, run, weights_dtype,
)  # fmt: skip
from stackmesh_post_training.training.spec import TrainingSpec


class _SftTrainer(RunMixin, Trainer):
    pass


def train_sft(
    base: Path, spec: TrainingSpec, rows: list[list[dict[str, Any]]], output_dir: Path, hooks: Hooks, cache_dir: Path
) -> TrainingResult:
    """Trains on `rows` (each a list of chat messages) from `base`, checkpointing into
    `output_dir` and resuming from the latest complete checkpoint found there."""
    if not rows:
        raise TrainingError("the dataset has no rows")
    quiet()
    device, dtype = pick_device(spec.dtype)
    with out_of_memory_as_error(device):
        model, tokenizer = load_base(base, weights_dtype(spec, dtype), device, cache_dir)
        examples = render_sft(tokenizer, rows, max_seq_len=spec.max_seq_len, train_on_input=spec.train_on_input)
        if spec.lora is not None:
            set_seed(spec.seed)  # the adapter's initial weights
            model = get_peft_model(model, lora_config(spec.lora))
        relay = Relay(hooks, spec, output_dir)
        trainer = _SftTrainer(
            model=model,
            # Examples are not dicts of model inputs until the collator makes them so.
            args=TrainingArguments(**arguments(spec, output_dir, device, dtype), remove_unused_columns=False),
            train_dataset=examples,
            data_collator=partial(collate, pad_token_id=tokenizer.pad_token_id),
            processing_class=tokenizer,
            callbacks=[relay],
            sampler=EpochSampler(len(examples), spec),
            spec=spec,
        )
        return run(trainer, relay, output_dir)
