"""Direct preference optimisation (trl's DPOTrainer) on {prompt, chosen, rejected} rows.

With LoRA the reference model is the base itself, the adapter switched off; full DPO keeps a
frozen copy of the base.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from stackmesh_post_training.training.data import render_dpo
from stackmesh_post_training.training.device import pick_device
from stackmesh_post_training.training.errors import TrainingError
from stackmesh_post_training.training.hooks import Hooks, TrainingResult
from stackmesh_post_training.training.models import load_base
from stackmesh_post_training.training.runner import (
    EpochSampler, Relay, RunMixin, arguments, lora_config, out_of_memory_as_error, quiet, run, weights_dtype,
)  # fmt: skip
from stackmesh_post_training.training.spec import DpoSpec, TrainingSpec


class _DpoTrainer(RunMixin, DPOTrainer):
    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        return None  # trl writes a README.md beside the checkpoints at every save; nobody reads it


def train_dpo(
    base: Path, spec: TrainingSpec, dpo: DpoSpec, rows: list[dict[str, Any]], output_dir: Path, hooks: Hooks, cache_dir: Path
) -> TrainingResult:
    """Trains on preference `rows` from `base`, checkpointing into `output_dir` and resuming
    from the latest complete checkpoint found there. Steps report trl's rewards/* in `extra`."""
    if not rows:
        raise TrainingError("the dataset has no rows")
    quiet()
    device, dtype = pick_device(spec.dtype)
    with out_of_memory_as_error(device):
        model, tokenizer = load_base(base, weights_dtype(spec, dtype), device, cache_dir)
        pairs = render_dpo(tokenizer, rows, max_seq_len=spec.max_seq_len)
        reference = None if spec.lora is not None else copy.deepcopy(model).eval().requires_grad_(False)
        relay = Relay(hooks, spec, output_dir)
        config = DPOConfig(
            **arguments(spec, output_dir, device, dtype),
            beta=dpo.beta,
            loss_type=[dpo.loss_type],
            max_length=spec.max_seq_len,
        )
        trainer = _DpoTrainer(
            model=model,
            ref_model=reference,
            args=config,
            train_dataset=Dataset.from_list(pairs),
            processing_class=tokenizer,
            peft_config=lora_config(spec.lora) if spec.lora is not None else None,
            callbacks=[relay],
            sampler=EpochSampler(len(pairs), spec),
            spec=spec,
        )
        return run(trainer, relay, output_dir)
