"""The contract every inference provider implements.

Requests and responses are OpenAI-shaped JSON dicts: the servicer validates them and
converts to and from protobuf, so a provider that speaks OpenAI (llama.cpp, vLLM, a
hosted API) passes them through with little glue. What a provider receives:

- one choice per call (the servicer fans `n` out), the limit as `max_tokens` only, and no
  gateway fields (model, stream, store, metadata, user);
- the sampling fields, `response_format`, logprobs, and vLLM's extras (top_k, min_p,
  repetition_penalty, guided_json / guided_regex / guided_choice) — honoured, or refused with
  InvalidArgument naming the field;
- `tools` only for models whose metadata says `tool_calling: native`; for the others the
  servicer has already turned tools into a system message and a `response_format`;
- streams always with `stream_options.include_usage`: they end with a usage chunk.

`load_model` metadata should include `context_length` and, for llm models, `tool_calling`.
The tests in tests/contracts/inference/ run against every provider.
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

    # Whether load_model puts weights in this process's memory (the model registry caps how
    # many such models are loaded); remote providers only check the model exists.
    holds_weights: bool

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
