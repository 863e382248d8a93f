"""The contract every inference provider implements.

Requests and responses are OpenAI-shaped JSON dicts: the servicer validates them and
converts to and from protobuf, so a provider that speaks OpenAI (llama.cpp, vLLM, a
hosted API) passes them through with little glue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    prompt_tokens: int


class InferenceProvider(Protocol):
    """One provider instance; it may serve several models."""

    async def load_model(self, provider_model_id: str, model_type: str) -> dict[str, Any]:
        """Loads (or checks) a model; returns metadata to store with it. Raises InvalidArgument
        when the provider cannot serve it."""

    async def unload_model(self, provider_model_id: str) -> None: ...

    async def chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def stream_chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def stream_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def embeddings(self, provider_model_id: str, inputs: list[str], dimensions: int | None) -> EmbeddingResult: ...

    async def close(self) -> None: ...
