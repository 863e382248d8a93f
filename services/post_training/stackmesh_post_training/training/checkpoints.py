"""Checkpoint directories of a run (`<output_dir>/checkpoint-<step>`, as the Trainer saves
them) and which of them are complete.

The Trainer writes a checkpoint file by file, so a worker killed mid-save leaves a directory
that looks like one. A checkpoint counts once the marker written after the Trainer's save is
there, along with the files a resume reads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from stackmesh_post_training.training.hooks import CheckpointInfo

PREFIX = "checkpoint-"
MARKER = "stackmesh-complete.json"
_NAME = re.compile(rf"{PREFIX}(\d+)")
# What resuming reads, besides the weights: the Trainer's counters, optimizer, schedule, RNG.
_RESUME_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt", "rng_state.pth")
_WEIGHTS = ("adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json")


def path_of(output_dir: Path, step: int) -> Path:
    return output_dir / f"{PREFIX}{step}"


def step_of(path: Path) -> int | None:
    match = _NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None


def is_complete(path: Path) -> bool:
    return (
        (path / MARKER).is_file()
        and all((path / name).is_file() for name in _RESUME_FILES)
        and any((path / name).is_file() for name in _WEIGHTS)
    )


def mark_complete(info: CheckpointInfo) -> None:
    scratch = info.path / f".{MARKER}.tmp"
    scratch.write_text(json.dumps({"step": info.step, "epoch": info.epoch, "train_loss": info.train_loss}))
    os.replace(scratch, info.path / MARKER)


def info_of(path: Path) -> CheckpointInfo:
    """What `mark_complete` recorded of a complete checkpoint."""
    fields = json.loads((path / MARKER).read_text())
    return CheckpointInfo(step=fields["step"], epoch=fields["epoch"], path=path, train_loss=fields["train_loss"])


def _checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    if not output_dir.is_dir():
        return []
    found = ((step_of(path), path) for path in output_dir.iterdir() if path.is_dir())
    return sorted((step, path) for step, path in found if step is not None)


def latest_complete(output_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step, if any."""
    complete = [path for _, path in _checkpoints(output_dir) if is_complete(path)]
    return complete[-1] if complete else None


def discard_incomplete(output_dir: Path) -> None:
    """Removes what killed saves left, so that a save of the same step starts afresh."""
    for _, path in _checkpoints(output_dir):
        if not is_complete(path):
            shutil.rmtree(path)
