"""The inference service's own settings (`services.inference.settings` in the distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.jobs import WorkerSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchSettings(WorkerSettings):
    """Workers of batches (`python -m stackmesh_inference.worker` out of process)."""

    # Batches one worker process runs at once.
    concurrency: int = Field(default=2, ge=1, le=64)
    # Requests of one batch in flight at once (the llama.cpp provider serves 8 slots).
    requests_in_flight: int = Field(default=8, ge=1, le=256)
    # Deadline of each request a batch sends to the inference API.
    request_timeout_s: float = Field(default=300.0, gt=0)
    # Deliveries of a batch before it fails.
    max_deliver: int = Field(default=10, ge=1)
    # OpenAI's limits on one input file.
    max_requests: int = Field(default=50_000, ge=1)
    max_input_bytes: int = Field(default=200 * 1024 * 1024, ge=1)


class StoredCompletionSettings(_Strict):
    # Days a stored chat completion (`store: true`) is kept; OpenAI keeps them 30 days.
    # 0 keeps them until deleted.
    retention_days: float = Field(default=30.0, ge=0)
    # How often expired completions are deleted.
    sweep_interval_s: float = Field(default=3600.0, gt=0)


class Settings(_Strict):
    batches: BatchSettings = Field(default_factory=BatchSettings)
    stored_completions: StoredCompletionSettings = Field(default_factory=StoredCompletionSettings)
    # Models whose weights this process may hold at once (local providers); registering one
    # more is refused, so callers cannot exhaust the service's memory.
    max_loaded_models: int = Field(default=8, ge=1)
