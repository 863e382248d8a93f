"""What safety providers ask of the inference service: guard verdicts and embeddings.

A thin layer over the shared peer client (which carries the served call's request id and
deadline): it builds the requests and says what a refusal means here — a guard model the
inference service does not know is this service's failed precondition, not the caller's 404.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stackmesh.common.v1 import chat_pb2
from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh_common.errors import FailedPrecondition, StackmeshError
from stackmesh_common.peers import InferenceClient
from stackmesh_common.protojson import from_json

# Inputs per embeddings call; keeps one call well under the gRPC message limit.
EMBED_BATCH = 64


@dataclass(frozen=True)
class ModelInfo:
    id: str
    model_type: str


class GuardInference:
    """One client of the inference service, shared by every provider of this process."""

    def __init__(self, client: InferenceClient) -> None:
        self._client = client

    async def chat(
        self,
        model: str,
        messages: list[dict],
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
        request.messages.extend(from_json(message, chat_pb2.ChatMessage) for message in messages)
        reply = await self._client.chat_completion(request, timeout_s=timeout_s, refused_as=FailedPrecondition)
        if not reply.choices:
            raise StackmeshError(f"chat completion on `{model}` returned no choices", reason="inference_failed")
        return reply.choices[0].message.content

    async def embed(self, model: str, texts: list[str], *, timeout_s: float) -> np.ndarray:
        """Unit-length float32 rows, one per text, so a dot product is the cosine similarity."""
        rows: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            request = pb.CreateEmbeddingsRequest(model=model)
            request.input.list_value.extend(texts[start : start + EMBED_BATCH])
            reply = await self._client.embeddings(request, timeout_s=timeout_s, refused_as=FailedPrecondition)
            rows.extend([v.number_value for v in item.embedding.list_value.values] for item in reply.data)
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    async def get_model(self, model: str, *, timeout_s: float) -> ModelInfo | None:
        """The registered model, or None when the inference service does not know it."""
        reply = await self._client.get_model(model, timeout_s=timeout_s, refused_as=FailedPrecondition)
        return None if reply is None else ModelInfo(reply.id, reply.model_type)
