"""How a run reports while it trains, learns it should stop, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class StepMetrics:
    step: int
    # Counted from 1: the epoch this step belongs to.
    epoch: int
    loss: float
    learning_rate: float
    # Tokens the step trained on, padding left out.
    tokens: int
    tokens_per_s: float
    # Whatever else the trainer measured: grad_norm; DPO's rewards/chosen, rewards/rejected,
    # rewards/margins, rewards/accuracies, logps/*.
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    epoch: int
    path: Path
    # The loss of the checkpoint's step.
    train_loss: float


def _ignore(_: object) -> None:
    return None


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Hooks:
    """Called on the training thread: keep them quick, and let them hand work elsewhere."""

    on_step: Callable[[StepMetrics], None] = _ignore
    # Polled after every optimizer step; True ends the run with a checkpoint of that step.
    should_stop: Callable[[], bool] = _never
    # After each save; and again, at the start, for the checkpoint a run resumes from.
    on_checkpoint: Callable[[CheckpointInfo], None] = _ignore


@dataclass(frozen=True)
class TrainingResult:
    steps: int
    # Epochs completed.
    epochs: int
    final_checkpoint: Path
    # The loss of the last step.
    train_loss: float
    # Ended by `should_stop` before the last step.
    stopped: bool
