"""The post_training service's settings (`services.post_training.settings` in a distribution)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.jobs import WorkerSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainingWorkers(WorkerSettings):
    """Workers of training jobs (`python -m stackmesh_post_training.worker` out of process)."""

    # One job at a time per process: a job uses every core (or the GPU) it is given.
    concurrency: int = Field(default=1, ge=1, le=16)
    # A killed trainer's job comes back to another worker after this, from its last checkpoint.
    ack_wait_s: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1)
    # Seconds a cancelled job gets to save its last checkpoint.
    cancel_grace_s: float = Field(default=120.0, gt=0)


class SyntheticWorkers(WorkerSettings):
    """Workers of synthetic data generation jobs: they wait on the inference and eval services."""

    concurrency: int = Field(default=2, ge=1, le=64)


class Limits(_Strict):
    """Bounds of what one request may ask for (a 400 names the field past one)."""

    max_rows: int = Field(default=100_000, ge=1)
    max_steps: int = Field(default=100_000, ge=1)
    max_batch_size: int = Field(default=256, ge=1)
    max_seq_len: int = Field(default=8192, ge=16)
    max_rank: int = Field(default=256, ge=1)
    # Seed dialogs of one synthetic data generation request.
    max_dialogs: int = Field(default=1000, ge=1)


class Settings(_Strict):
    jobs: TrainingWorkers = Field(default_factory=TrainingWorkers)
    synthetic: SyntheticWorkers = Field(default_factory=SyntheticWorkers)
    limits: Limits = Field(default_factory=Limits)
    # Where jobs write checkpoints and exported models; relative to the stack's state dir.
    # The inference provider that serves fine-tuned models must be able to read `models/`
    # under it (its `model_roots`).
    data_dir: Path = Path("data/post_training")
    # Model id -> weights (a .gguf file or a model directory) for base models whose weights the
    # inference service does not point at by a path or a packaged name.
    models: dict[str, Path] = Field(default_factory=dict)
    # The inference provider (an `inline::transformers` one) that serves finished jobs' models.
    serving_provider_id: str = "transformers"
    # torch intra-op threads of a training job on a CPU.
    torch_threads: int = Field(default=2, ge=1)
    # Deadline of one call to a peer (the inference or eval service).
    peer_timeout_s: float = Field(default=120.0, gt=0)
