"""The inference service over gRPC, as safety providers use it: chat, embeddings, model look-up.

Every call carries a deadline: the provider's timeout, cut short by the deadline of the
safety call being served (`deadline` below), so a caller's deadline holds end to end.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh_common.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument, StackmeshError, Unavailable
from stackmesh_common.interceptors import REQUEST_ID_HEADER
from stackmesh_common.logging import request_id

# Absolute time.monotonic() by which the safety call being served must answer; None when
# its caller set no deadline.
deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)
# Inputs per embeddings call; keeps one call well under the gRPC message limit.
EMBED_BATCH = 64


@dataclass(frozen=True)
class ModelInfo:
    id: str
    model_type: str


def _error(exc: grpc.aio.AioRpcError, what: str) -> StackmeshError:
    code = exc.code()
    details = exc.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(f"the inference service is unavailable ({what}): {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(f"the inference service did not answer in time ({what})")
    if code == grpc.StatusCode.NOT_FOUND:
        return FailedPrecondition(f"{what}: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(f"{what}: the inference service refused the request: {details}")
    return StackmeshError(f"{what}: the inference service failed: {details}", reason="inference_failed")


class InferenceClient:
    """One channel to the inference service, shared by every provider of this process."""

    def __init__(self, address: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._inference = pb_grpc.InferenceServiceStub(self._channel)
        self._models = pb_grpc.ModelsServiceStub(self._channel)

    @staticmethod
    def _call_options(timeout_s: float) -> dict[str, Any]:
        limit = deadline.get()
        if limit is not None:
            timeout_s = min(timeout_s, limit - time.monotonic())
            if timeout_s <= 0:
                raise DeadlineExceeded("the deadline of the safety call passed before the inference call")
        metadata = ((REQUEST_ID_HEADER, rid),) if (rid := request_id.get()) else None
        return {"timeout": timeout_s, "metadata": metadata}

    async def chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        seed: int,
        timeout_s: float,
        guided_regex: str | None = None,
    ) -> str:
        """Greedy decoding (temperature 0, fixed seed): a guard's verdict must be reproducible.
        `guided_regex` constrains the reply to a pattern (grammar-constrained decoding)."""
        request = pb.CreateChatCompletionRequest(
            model=model, max_tokens=max_tokens, temperature=0, seed=seed, store=False, guided_regex=guided_regex
        )
        for message in messages:
            request.messages.add().struct_value.update(message)
        try:
            reply = await self._inference.CreateChatCompletion(request, **self._call_options(timeout_s))
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, f"chat completion on `{model}`") from None
        if not reply.choices:
            raise StackmeshError(f"chat completion on `{model}` returned no choices", reason="inference_failed")
        return reply.choices[0].message.content

    async def embed(self, model: str, texts: list[str], *, timeout_s: float) -> np.ndarray:
        """Unit-length float32 rows, one per text, so a dot product is the cosine similarity."""
        rows: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            request = pb.CreateEmbeddingsRequest(model=model)
            request.input.list_value.extend(texts[start : start + EMBED_BATCH])
            try:
                reply = await self._inference.CreateEmbeddings(request, **self._call_options(timeout_s))
            except grpc.aio.AioRpcError as exc:
                raise _error(exc, f"embeddings on `{model}`") from None
            rows.extend([v.number_value for v in item.embedding.list_value.values] for item in reply.data)
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    async def get_model(self, model: str, *, timeout_s: float) -> ModelInfo | None:
        """The registered model, or None when the inference service does not know it."""
        try:
            reply = await self._models.GetModel(pb.GetModelRequest(model=model), **self._call_options(timeout_s))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _error(exc, f"looking up model `{model}`") from None
        return ModelInfo(reply.id, reply.model_type)

    async def close(self) -> None:
        await self._channel.close()
