"""Search over a store, the same on every provider: providers find candidates by vector and by
keyword; this module checks the options, fuses the two lists for hybrid search and applies
the score threshold.

Scores: vector is cosine similarity; keyword is a relevance in [0, 1); hybrid with `rrf`
is the sum of 1 / (impact_factor + rank) over both lists (small numbers: thresholds should
be too), with `weighted` it is alpha * vector + (1 - alpha) * keyword.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from stackmesh_common.errors import InvalidArgument
from stackmesh_vector_io.characters import check_free_text
from stackmesh_vector_io.embeddings import EmbeddingClient
from stackmesh_vector_io.filters import Filter, parse_filter
from stackmesh_vector_io.providers.base import Hit, VectorIOProvider
from stackmesh_vector_io.stores import StoreRecord

MODES = ("vector", "keyword", "hybrid")
RANKERS = ("rrf", "weighted")
# OpenAI's ranker names, which mean "the default for the mode".
DEFAULT_RANKERS = ("", "auto", "default-2024-11-15", "none")
DEFAULT_IMPACT_FACTOR = 60.0
DEFAULT_ALPHA = 0.5
# Hybrid search fuses this many candidates from each list at least.
MIN_CANDIDATES = 50


@dataclass(frozen=True)
class SearchOptions:
    mode: str = "vector"
    max_results: int = 10
    # None keeps every hit: cosine similarity may be negative, so 0 would drop some.
    score_threshold: float | None = None
    ranker: str = "rrf"
    alpha: float = DEFAULT_ALPHA
    impact_factor: float = DEFAULT_IMPACT_FACTOR
    where: Filter | None = None


def query_text(query: Any, param: str = "query") -> list[str]:
    """The query strings of a string or a list of strings; empty ones are a 400."""
    queries = [query] if isinstance(query, str) else query
    if not isinstance(queries, list) or not queries or not all(isinstance(q, str) and q.strip() for q in queries):
        raise InvalidArgument(f"`{param}` must be a non-empty string or a non-empty list of non-empty strings", param=param)
    return [check_free_text(q, param if isinstance(query, str) else f"{param}[{i}]") for i, q in enumerate(queries)]


def options(
    mode: str, max_results: int | None, maximum: int, filters: Any, ranker: str, score_threshold: float | None,
    alpha: float | None, impact_factor: float | None, max_param: str = "max_num_results",
) -> SearchOptions:  # fmt: skip
    """Checks search options; every bad one is a 400 naming its field."""
    mode = mode or "vector"
    if mode not in MODES:
        raise InvalidArgument(f"`search_mode` must be one of {', '.join(MODES)}, got {mode!r}", param="search_mode")
    results = 10 if max_results is None else max_results
    if not 1 <= results <= maximum:
        raise InvalidArgument(f"`{max_param}` must be between 1 and {maximum}, got {results}", param=max_param)
    ranker = "rrf" if ranker in DEFAULT_RANKERS else ranker
    if ranker not in RANKERS:
        raise InvalidArgument(
            f"`ranking_options.ranker` must be one of {', '.join(RANKERS)} (or auto), got {ranker!r}", param="ranking_options.ranker"
        )
    if score_threshold is not None and not 0.0 <= score_threshold <= 1.0:
        raise InvalidArgument(
            f"`ranking_options.score_threshold` must be between 0 and 1, got {score_threshold:g}",
            param="ranking_options.score_threshold",
        )
    weight = DEFAULT_ALPHA if alpha is None else alpha
    if not 0.0 <= weight <= 1.0:
        raise InvalidArgument(f"`ranking_options.alpha` must be between 0 and 1, got {weight:g}", param="ranking_options.alpha")
    k = DEFAULT_IMPACT_FACTOR if impact_factor is None else impact_factor
    if k <= 0:
        raise InvalidArgument(f"`ranking_options.impact_factor` must be above 0, got {k:g}", param="ranking_options.impact_factor")
    where = parse_filter(filters) if filters else None
    return SearchOptions(mode, results, score_threshold, ranker, weight, k, where)


def _rrf(lists: list[list[Hit]], impact_factor: float) -> list[Hit]:
    scores: dict[str, float] = {}
    chunks = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + 1.0 / (impact_factor + rank)
            chunks[hit.chunk.chunk_id] = hit.chunk
    return [Hit(chunks[i], s) for i, s in scores.items()]


def _weighted(vector: list[Hit], keyword: list[Hit], alpha: float) -> list[Hit]:
    scores: dict[str, float] = {}
    chunks = {}
    for hit in vector:
        scores[hit.chunk.chunk_id] = alpha * max(hit.score, 0.0)
        chunks[hit.chunk.chunk_id] = hit.chunk
    for hit in keyword:
        scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + (1.0 - alpha) * hit.score
        chunks[hit.chunk.chunk_id] = hit.chunk
    return [Hit(chunks[i], s) for i, s in scores.items()]


async def search(
    provider: VectorIOProvider, store: StoreRecord, embedder: EmbeddingClient, queries: list[str], opts: SearchOptions
) -> list[Hit]:
    """The best chunks of `store` for the joined query strings, best first."""
    text = " ".join(queries)
    k = opts.max_results

    async def by_vector(limit: int) -> list[Hit]:
        embedding = (await embedder.embed(store.embedding_model, [text], store.embedding_dimension))[0]
        return await provider.vector_search(store.id, embedding, limit, opts.where)

    if opts.mode == "vector":
        hits = await by_vector(k)
    elif opts.mode == "keyword":
        hits = await provider.keyword_search(store.id, text, k, opts.where)
    else:
        candidates = max(MIN_CANDIDATES, 3 * k)
        vector, keyword = await asyncio.gather(by_vector(candidates), provider.keyword_search(store.id, text, candidates, opts.where))
        hits = _rrf([vector, keyword], opts.impact_factor) if opts.ranker == "rrf" else _weighted(vector, keyword, opts.alpha)
    if opts.score_threshold is not None:
        hits = [h for h in hits if h.score >= opts.score_threshold]
    hits = sorted(hits, key=lambda h: (-h.score, h.chunk.chunk_id))
    return hits[:k]
