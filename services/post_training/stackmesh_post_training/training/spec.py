"""What a training run is asked to do; the service checks the values, the trainer takes them as given.

Torch-free, so the service can build specs without loading the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Optimizer = Literal["adamw", "adam", "sgd"]
Dtype = Literal["bf16", "fp16", "fp32"]
DpoLoss = Literal["sigmoid", "hinge", "ipo"]


@dataclass(frozen=True, kw_only=True)
class LoraSpec:
    rank: int
    alpha: float
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    use_dora: bool = False


@dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    # None: full fine-tuning.
    lora: LoraSpec | None
    n_epochs: int = 1
    # Every epoch is exactly this many optimizer steps; one that needs more rows than the
    # dataset has goes through the rows again, reshuffled.
    max_steps_per_epoch: int = 1
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    warmup_steps: int = 0
    optimizer: Optimizer = "adamw"
    weight_decay: float = 0.0
    # Gradients are clipped to this norm; 0 turns clipping off.
    max_grad_norm: float = 1.0
    seed: int = 42
    # None: the device's best (bf16 or fp16 on a GPU, fp32 on a CPU).
    dtype: Dtype | None = None
    max_seq_len: int = 1024
    # None: a checkpoint at the end only.
    checkpoint_every_steps: int | None = None
    # Train on every token of a conversation, not only the assistant's.
    train_on_input: bool = False
    shuffle: bool = True

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run."""
        return self.n_epochs * self.max_steps_per_epoch


@dataclass(frozen=True, kw_only=True)
class DpoSpec:
    beta: float = 0.1
    loss_type: DpoLoss = "sigmoid"
