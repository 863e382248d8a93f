"""The trainer of post_training jobs: supervised fine-tuning and DPO (LoRA or full) on
transformers' Trainer and trl, resumable from checkpoints, and export of a checkpoint as a
model directory inference serves.

Specs, hooks and errors import without torch; the functions that train load torch,
transformers and trl on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stackmesh_post_training.training.errors import DataError, TrainingError
from stackmesh_post_training.training.hooks import CheckpointInfo, Hooks, StepMetrics, TrainingResult
from stackmesh_post_training.training.spec import DpoSpec, LoraSpec, TrainingSpec

if TYPE_CHECKING:
    from stackmesh_post_training.training.data import Example, render_dpo, render_sft
    from stackmesh_post_training.training.device import pick_device
    from stackmesh_post_training.training.dpo import train_dpo
    from stackmesh_post_training.training.export import export_servable
    from stackmesh_post_training.training.models import load_base
    from stackmesh_post_training.training.sft import train_sft

_LAZY = {
    "Example": "data",
    "render_sft": "data",
    "render_dpo": "data",
    "pick_device": "device",
    "load_base": "models",
    "train_sft": "sft",
    "train_dpo": "dpo",
    "export_servable": "export",
}

__all__ = [
    "CheckpointInfo", "DataError", "DpoSpec", "Example", "Hooks", "LoraSpec", "StepMetrics", "TrainingError",
    "TrainingResult", "TrainingSpec", "export_servable", "load_base", "pick_device", "render_dpo", "render_sft",
    "train_dpo", "train_sft",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
