"""The vector_io service's own settings (`services.vector_io.settings` in the distribution)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_common.jobs import WorkerSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestionSettings(WorkerSettings):
    """Workers of file ingestion (`python -m stackmesh_vector_io.worker` out of process); a
    file whose job fails for good (after `max_deliver`) is marked failed."""

    # Files ingested at once by one process (each holds a Postgres connection while it writes).
    concurrency: int = Field(default=4, ge=1, le=64)
    # Limits per file; a file over one fails with a `last_error` naming it.
    # Bytes: a larger file is not read. PDF and HTML are parsed whole, so each file being
    # ingested may hold this much in memory; text formats are decoded as they are read.
    max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # Characters of text: what is tokenized and chunked in memory (~5 per English token).
    max_text_chars: int = Field(default=10_000_000, ge=1)
    # Chunks: each is embedded and stored.
    max_chunks: int = Field(default=10_000, ge=1)


class Settings(_Strict):
    # Provider of stores created without `provider_id`; the first vector_io provider when empty.
    default_provider_id: str = ""
    # Embedding model of stores created without `embedding_model` (served by the inference service).
    default_embedding_model: str = "all-MiniLM-L6-v2"
    # Where the local object store keeps file bytes; `<state_dir>/data/vector_io/files` when empty.
    files_dir: Path | None = None
    # Deadline of each call to the inference service.
    inference_timeout_s: float = Field(default=60.0, gt=0)
    # Texts per embeddings call; concurrent ingestions share calls up to this size.
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    # Seconds attaching a file or a file batch waits for ingestion to end before answering, so
    # the create call reports `completed` or `failed` (Llama Stack clients expect the outcome);
    # larger files still answer `in_progress`. Never past the caller's deadline; 0 answers at once.
    attach_wait_s: float = Field(default=30.0, ge=0)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
