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

import grpc
import numpy as np
from google.protobuf import struct_pb2

from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as inference_grpc
from stackmesh_common.errors import DeadlineExceeded, InvalidArgument, StackmeshError, Unavailable
from stackmesh_common.server import MAX_MESSAGE_BYTES

# Calls in flight per model: one being computed, one being sent or decoded.
MAX_IN_FLIGHT = 2
_REFUSALS = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)


@dataclass(frozen=True)
class EmbeddingModel:
    id: str
    dimension: int
    # Tokens the model reads; longer inputs are truncated. None when the model does not say.
    context_length: int | None


def _error(exc: grpc.aio.AioRpcError, what: str, param: str) -> StackmeshError:
    if exc.code() in _REFUSALS:
        return InvalidArgument(f"the inference service refused {what}: {exc.details()}", param=param)
    if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(f"the inference service did not answer {what} in time")
    return Unavailable(f"the inference service is unavailable for {what}: {exc.code().name} {exc.details()}")


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
    def __init__(self, address: str, timeout_s: float, batch_size: int) -> None:
        self._channel = grpc.aio.insecure_channel(
            address,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
        )
        self._inference = inference_grpc.InferenceServiceStub(self._channel)
        self._models = inference_grpc.ModelsServiceStub(self._channel)
        self._timeout_s = timeout_s
        self._batch_size = batch_size
        self._batchers: dict[tuple[str, int | None], _Batcher] = {}

    async def model(self, name: str) -> EmbeddingModel:
        """The embedding model `name` as the inference service knows it; a 400 if it is not one."""
        try:
            model = await self._models.GetModel(inference_pb.GetModelRequest(model=name), timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, f"embedding model `{name}`", "embedding_model") from None
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
        try:
            response = await self._inference.CreateEmbeddings(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, f"embeddings of model `{model}`", "embedding_model") from None
        items = sorted(response.data, key=lambda item: item.index)
        return np.stack([np.frombuffer(base64.b64decode(item.embedding.string_value), dtype="<f4") for item in items])

    async def embed(self, model: str, texts: list[str], dimensions: int | None = None) -> np.ndarray:
        """One float32 row per text, in order; `dimensions` truncates them (Matryoshka models)."""
        key = (model, dimensions)
        if key not in self._batchers:
            self._batchers[key] = _Batcher(lambda batch: self._create(model, dimensions, batch), self._batch_size)
        return await self._batchers[key].embed(texts)

    async def close(self) -> None:
        await self._channel.close()
