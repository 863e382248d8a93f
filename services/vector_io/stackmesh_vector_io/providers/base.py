"""The contract every vector_io provider implements: chunk storage plus vector and keyword search.

Providers store and search chunks; everything else (stores, files, fusion of vector and
keyword results, thresholds) is the service's, so every provider ranks the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stackmesh_common.config import PostgresConfig
from stackmesh_vector_io.filters import Filter


@dataclass(frozen=True)
class ProviderContext:
    """What the service hands every provider factory."""

    postgres: PostgresConfig
    # The service's schema, for providers that keep their tables in the service's database.
    schema: str
    # Where an embedded provider keeps its files.
    data_dir: Path


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as a provider keeps it."""

    chunk_id: str
    # The file it was cut from; empty for chunks inserted through the raw vector-io API.
    file_id: str
    # Its place in the file, for returning a file's content in order.
    position: int
    # The text that keyword search indexes and search results show.
    text: str
    # Always set on writes; on reads only where asked for (search hits leave it out).
    embedding: np.ndarray | None = None
    # The original content (a string, or Llama Stack content items) of raw chunks.
    content: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    chunk_metadata: dict[str, Any] = field(default_factory=dict)
    # The file's attributes, copied to each chunk so filters run where the chunks are.
    attributes: dict[str, Any] = field(default_factory=dict)
    # Unix seconds after which the chunk is no longer returned; never when None.
    expires_at: int | None = None


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    # Vector: cosine similarity. Keyword: a relevance in [0, 1) (rank / (rank + 1)).
    score: float


class VectorIOProvider(Protocol):
    async def create_store(self, store_id: str, dimension: int) -> None:
        """Makes room for a new store's chunks of embeddings of `dimension`."""

    async def delete_store(self, store_id: str) -> None: ...

    async def replace_file_chunks(self, store_id: str, file_id: str, chunks: list[StoredChunk]) -> None:
        """Atomically replaces every chunk of `file_id` with `chunks`: running it twice leaves one set."""

    async def insert_chunks(self, store_id: str, chunks: list[StoredChunk]) -> None:
        """Adds chunks, replacing those with the same chunk_id."""

    async def delete_file_chunks(self, store_id: str, file_id: str) -> None: ...

    async def set_file_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> None: ...

    async def file_chunks(self, store_id: str, file_id: str) -> list[StoredChunk]:
        """The file's chunks, embeddings included, in position order."""

    async def vector_search(self, store_id: str, embedding: np.ndarray, k: int, where: Filter | None) -> list[Hit]:
        """The `k` chunks nearest to `embedding` (cosine) among those `where` holds for, best first."""

    async def keyword_search(self, store_id: str, query: str, k: int, where: Filter | None) -> list[Hit]:
        """The `k` best chunks (full-text ranking) having every word of `query` when k chunks have
        them all, else having any (stemmed) word of it; best first."""

    async def close(self) -> None: ...
