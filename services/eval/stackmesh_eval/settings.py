"""The eval service's settings (`services.eval.settings` in a distribution)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.jobs import WorkerSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSettings(_Strict):
    # Folders a dataset may be registered from by path (`file:///…`); a relative one is under
    # the stack's state dir. Nothing outside them is readable.
    local_roots: list[Path] = Field(default_factory=lambda: [Path("data/eval/datasets")])
    # Bytes read from one source (a file, a URL, a data: URI); a larger one is refused.
    max_source_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    # Rows one dataset may hold, registered and appended together.
    max_rows: int = Field(default=1_000_000, ge=1)
    # Deadline of fetching an http(s) source or a Files API file.
    fetch_timeout_s: float = Field(default=60.0, gt=0)


class RunSettings(WorkerSettings):
    """Coordinators of evaluation jobs (kind "eval"): they queue a job's shards, wait and
    aggregate, so many run at once cheaply."""

    concurrency: int = Field(default=32, ge=1, le=256)
    # A coordinator outlives worker deaths: its shards, not it, hold the work.
    max_deliver: int = Field(default=10, ge=1)


class ShardSettings(WorkerSettings):
    """Workers of evaluation shards (kind "eval_shard"): generations and judge calls."""

    concurrency: int = Field(default=8, ge=1, le=256)
    max_deliver: int = Field(default=10, ge=1)
    # Most rows in one shard, the unit a worker takes. A job's shards are smaller when it has
    # few rows, so that its last wave of shards still keeps every slot busy.
    rows: int = Field(default=64, ge=1, le=10_000)
    # Rows of one shard generated and scored at once.
    row_concurrency: int = Field(default=1, ge=1, le=64)


class Settings(_Strict):
    datasets: DatasetSettings = Field(default_factory=DatasetSettings)
    runs: RunSettings = Field(default_factory=RunSettings)
    shards: ShardSettings = Field(default_factory=ShardSettings)
    # Shards of one job queued at once: with shards.row_concurrency, bounds the calls one job
    # makes to the inference service (8 × 1 = the 8 slots of the local llama.cpp).
    shards_in_flight: int = Field(default=8, ge=1, le=1024)
    # Rows one synchronous call (score, evaluate-rows) takes; more go through score-batch or jobs.
    max_sync_rows: int = Field(default=50_000, ge=1)
    # Rows evaluate-rows generates for at once.
    sync_concurrency: int = Field(default=8, ge=1, le=256)
    # Deadline of one generation or judge call (inference), or one agent turn.
    inference_timeout_s: float = Field(default=300.0, gt=0)
    # Tokens a judge may answer with when the scoring function's params do not constrain it.
    judge_max_tokens: int = Field(default=64, ge=1)
