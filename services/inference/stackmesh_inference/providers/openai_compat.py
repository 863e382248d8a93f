"""OpenAI-compatible HTTP servers as providers: the client remote::vllm and remote::openai share.

One pooled async HTTP client per provider instance. Streams are passed on chunk by chunk as
the server sends them. A request is retried only when it cannot have reached the model — a
connection that failed to open, or a 503 answered before any output — so a retry never runs
a generation twice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Literal

import httpx
from pydantic import BaseModel, Field, SecretStr

from stackmesh_common.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    StackmeshError,
    Unavailable,
)
from stackmesh_inference.providers.base import EmbeddingResult

# First retry waits this long, each next one twice as long.
_BACKOFF_S = 0.1


class RemoteConfig(BaseModel):
    # Base URL of the OpenAI-compatible API, including its /v1.
    url: str
    # Sent as a bearer token. Write `${VLLM_API_KEY}` in the distribution, never the key.
    api_key: SecretStr | None = None
    # Longest wait for the next byte of a response: a whole non-streamed completion, or
    # the gap between two streamed chunks.
    timeout_s: float = Field(default=300.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # Pooled connections: the most requests in flight to the server at once.
    max_connections: int = Field(default=128, ge=1)
    # Retries of a request that never reached the server.
    max_retries: int = Field(default=2, ge=0)
    # How the served models call tools: "native" sends `tools` to the server (vLLM with a
    # tool parser, OpenAI); "constrained" builds calls from guided JSON, for models whose
    # chat template has no tools. A model's `tool_calling` metadata overrides it.
    tool_calling: Literal["native", "constrained"] = "native"


def _error_body(response: httpx.Response) -> dict[str, Any]:
    """The error object of a failed response: OpenAI's {"error": {...}} or vLLM's flat one."""
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text.strip() or response.reason_phrase}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return body if isinstance(body, dict) else {"message": str(body)}


def _is_context_overflow(error: dict[str, Any]) -> bool:
    message = str(error.get("message", "")).lower()
    return (
        error.get("type") == "exceed_context_size_error"  # llama.cpp
        or error.get("code") == "context_length_exceeded"  # OpenAI
        or "maximum context length" in message  # vLLM
        or "context size" in message
    )


class RemoteProvider:
    """An OpenAI-compatible server; subclasses translate requests into its dialect."""

    holds_weights = False

    provider_type = "remote::openai-compatible"

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        headers = {"authorization": f"Bearer {config.api_key.get_secret_value()}"} if config.api_key else {}
        self._client = httpx.AsyncClient(
            base_url=config.url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections),
        )

    def wire_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request in the server's dialect (vLLM's extra fields, OpenAI's names)."""
        return request

    # Errors.

    def _error(self, response: httpx.Response, param: str) -> StackmeshError:
        error = _error_body(response)
        message = str(error.get("message") or response.reason_phrase)
        status = response.status_code
        if status in (400, 413, 422) and _is_context_overflow(error):
            return InvalidArgument(f"`{param}` is too long for the model's context: {message}", param=param, reason="context_length_exceeded")
        if status in (400, 422):
            return InvalidArgument(message, param=error.get("param") if isinstance(error.get("param"), str) else None)
        if status == 404:
            return NotFound(f"{self.provider_type}: {message}", param="model")
        if status in (401, 403):
            return FailedPrecondition(f"{self.provider_type} at {self.config.url} refused the configured credentials: {message}")
        if status == 429:
            return ResourceExhausted(f"{self.provider_type} at {self.config.url} is rate limiting: {message}")
        if status in (408, 504):
            return DeadlineExceeded(f"{self.provider_type} at {self.config.url} timed out: {message}")
        return Unavailable(f"{self.provider_type} at {self.config.url} failed ({status}): {message}")

    def _transport_error(self, exc: httpx.HTTPError) -> StackmeshError:
        if isinstance(exc, httpx.TimeoutException):
            return DeadlineExceeded(f"{self.provider_type} at {self.config.url} sent nothing for {self.config.timeout_s:g} s")
        return Unavailable(f"{self.provider_type} at {self.config.url} is unreachable: {exc!r}")

    # Transport.

    async def _send(self, method: str, path: str, body: dict[str, Any] | None, param: str, stream: bool = False) -> httpx.Response:
        """Sends with retries where the server cannot have started the work; raises on errors."""
        request = self._client.build_request(method, path, json=body)
        for attempt in range(self.config.max_retries + 1):
            last = attempt == self.config.max_retries
            try:
                response = await self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if last:
                    raise self._transport_error(exc) from None
            except httpx.HTTPError as exc:
                raise self._transport_error(exc) from None
            else:
                if response.status_code == 503 and not last:
                    await response.aclose()
                elif response.status_code >= 400:
                    await response.aread()
                    raise self._error(response, param)
                else:
                    return response
            await asyncio.sleep(_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _post(self, path: str, body: dict[str, Any], param: str) -> dict[str, Any]:
        response = await self._send("POST", path, body, param)
        return response.json()

    async def _stream(self, path: str, body: dict[str, Any], param: str) -> AsyncIterator[dict[str, Any]]:
        response = await self._send("POST", path, {**body, "stream": True}, param, stream=True)
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = json.loads(data)
                if "error" in chunk:
                    raise Unavailable(f"{self.provider_type} failed mid-stream: {chunk['error'].get('message', chunk['error'])}")
                yield chunk
        except httpx.HTTPError as exc:
            raise Unavailable(f"{self.provider_type} at {self.config.url} broke off the stream: {exc!r}") from None
        finally:
            await response.aclose()
        raise Unavailable(f"{self.provider_type} at {self.config.url} ended the stream without [DONE]")

    # The provider contract.

    async def load_model(self, provider_model_id: str, model_type: str) -> dict[str, Any]:
        if model_type not in ("llm", "embedding"):
            raise InvalidArgument(f"{self.provider_type} serves llm and embedding models, not {model_type!r}", param="model_type")
        try:
            listed = (await self._send("GET", "/models", None, "provider_model_id")).json().get("data", [])
        except StackmeshError as exc:
            raise InvalidArgument(f"{self.provider_type} cannot check {provider_model_id!r}: {exc.message}", param="provider_id") from None
        for entry in listed:
            if provider_model_id == entry.get("id") or provider_model_id in (entry.get("aliases") or []):
                metadata: dict[str, Any] = {"tool_calling": self.config.tool_calling}
                # vLLM reports the context as max_model_len, llama.cpp as meta.n_ctx (per slot).
                context = entry.get("max_model_len") or (entry.get("meta") or {}).get("n_ctx")
                if context:
                    metadata["context_length"] = context
                return metadata
        served = ", ".join(str(entry.get("id")) for entry in listed) or "none"
        raise InvalidArgument(
            f"{self.provider_type} at {self.config.url} does not serve {provider_model_id!r}; it serves: {served}", param="provider_model_id"
        )

    async def unload_model(self, provider_model_id: str) -> None:
        """Nothing to free here: the server owns the weights."""

    def _body(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return {**self.wire_request(request), "model": provider_model_id}

    async def chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/chat/completions", self._body(provider_model_id, request), "messages")

    def stream_chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._stream("/chat/completions", self._body(provider_model_id, request), "messages")

    async def completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/completions", self._body(provider_model_id, request), "prompt")

    def stream_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._stream("/completions", self._body(provider_model_id, request), "prompt")

    async def embeddings(self, provider_model_id: str, inputs: list[str], dimensions: int | None) -> EmbeddingResult:
        body: dict[str, Any] = {"model": provider_model_id, "input": inputs}
        if dimensions is not None:
            body["dimensions"] = dimensions
        result = await self._post("/embeddings", body, "input")
        vectors = [item["embedding"] for item in sorted(result["data"], key=lambda item: item["index"])]
        return EmbeddingResult(vectors=vectors, prompt_tokens=(result.get("usage") or {}).get("prompt_tokens", 0))

    async def close(self) -> None:
        await self._client.aclose()
