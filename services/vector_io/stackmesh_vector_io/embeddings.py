"""Embeddings from the inference service over gRPC, with deadlines, batched across callers.

Concurrent ingestions of small files would each send a call of one or two texts; a batcher
per model sends what is waiting as soon as a call slot frees up, up to `batch_size` texts
per call. When the service is idle a request goes out at once, so search pays no delay.
"""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from google.protobuf import struct_pb2

from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.peers import InferenceClient

# Calls in flight per model: one being computed, one being sent or decoded.
MAX_IN_FLIGHT = 2


@dataclass(frozen=True)
class EmbeddingModel:
    id: str
    dimension: int
    # Tokens the model reads; longer inputs are truncated. None when the model does not say.
    context_length: int | None


class _Batcher:
    """Queues texts of one model and sends them in calls of up to `batch_size`."""

    def __init__(self, call: Callable[[list[str]], Awaitable[np.ndarray]], batch_size: int) -> None:
        self._call = call
        self._batch_size = batch_size
        self._waiting: deque[tuple[str, asyncio.Future[np.ndarray]]] = deque()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def embed(self, texts: list[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        self._waiting.extend(zip(texts, futures))
        self._pump()
        return np.stack(await asyncio.gather(*futures))

    def _pump(self) -> None:
        while self._waiting and self._in_flight < MAX_IN_FLIGHT:
            batch = [self._waiting.popleft() for _ in range(min(self._batch_size, len(self._waiting)))]
            self._in_flight += 1
            task = asyncio.create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[str, asyncio.Future[np.ndarray]]]) -> None:
        try:
            vectors = await self._call([text for text, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future), vector in zip(batch, vectors):
                if not future.done():
                    future.set_result(vector)
        finally:
            self._in_flight -= 1
            self._pump()


class EmbeddingClient:
    def __init__(self, inference: InferenceClient, timeout_s: float, batch_size: int) -> None:
        self._inference = inference
        self._timeout_s = timeout_s
        self._batch_size = batch_size
        self._batchers: dict[tuple[str, int | None], _Batcher] = {}

    async def model(self, name: str) -> EmbeddingModel:
        """The embedding model `name` as the inference service knows it; a 400 if it is not one."""
        model = await self._inference.get_model(name, timeout_s=self._timeout_s, refused_as=InvalidArgument, param="embedding_model")
        if model is None:
            raise InvalidArgument(f"the embedding model `{name}` does not exist", param="embedding_model")
        if model.model_type != "embedding":
            raise InvalidArgument(f"model `{name}` is a {model.model_type} model, not an embedding model", param="embedding_model")
        metadata = dict(model.metadata)
        dimension = int(metadata.get("embedding_dimension") or 0)
        if dimension <= 0:
            raise InvalidArgument(f"model `{name}` does not say its embedding dimension", param="embedding_model")
        context = metadata.get("context_length")
        return EmbeddingModel(model.id, dimension, int(context) if context else None)

    async def _create(self, model: str, dimensions: int | None, texts: list[str]) -> np.ndarray:
        request = inference_pb.CreateEmbeddingsRequest(
            model=model, input=struct_pb2.Value(list_value=struct_pb2.ListValue()), encoding_format="base64", dimensions=dimensions
        )
        request.input.list_value.extend(texts)
        response = await self._inference.embeddings(
            request, timeout_s=self._timeout_s, refused_as=InvalidArgument, param="embedding_model"
        )
        items = sorted(response.data, key=lambda item: item.index)
        return np.stack([np.frombuffer(base64.b64decode(item.embedding.string_value), dtype="<f4") for item in items])

    async def embed(self, model: str, texts: list[str], dimensions: int | None = None) -> np.ndarray:
        """One float32 row per text, in order; `dimensions` truncates them (Matryoshka models)."""
        key = (model, dimensions)
        if key not in self._batchers:
            self._batchers[key] = _Batcher(lambda batch: self._create(model, dimensions, batch), self._batch_size)
        return await self._batchers[key].embed(texts)
