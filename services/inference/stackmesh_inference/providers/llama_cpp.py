"""inline::llama-cpp: GGUF models served in process by llama.cpp through xllamacpp.

Each model gets one llama.cpp server context with `parallel` slots and continuous batching,
so concurrent requests share the forward passes instead of queueing. Calls block their
thread until done, so they run on a dedicated thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator

from pydantic import BaseModel, Field

from stackmesh_common.errors import FailedPrecondition, InvalidArgument, NotFound, StackmeshError, Unavailable
from stackmesh_inference.providers.base import EmbeddingResult
from stackmesh_inference.providers.gguf import read_string
from stackmesh_inference.providers.local_models import local_model_path
from stackmesh_inference.tools import CONSTRAINED, NATIVE

_END = object()
# llama.cpp's names for vLLM's extra sampling fields.
_RENAMED = {"repetition_penalty": "repeat_penalty"}


class Config(BaseModel):
    # Generation and prompt threads per model. The default distribution shares 2 cores with
    # the whole stack, where llama.cpp's busy-waiting threads oversubscribe the box.
    n_threads: int = Field(default=1, ge=1)
    n_threads_batch: int | None = Field(default=None, ge=1)
    # Busy-wait polling level 0-100 of llama.cpp's thread pool; 0 sleeps instead of spinning.
    poll: int = Field(default=0, ge=0, le=100)
    # Parallel slots: requests decoded together by continuous batching.
    parallel: int = Field(default=4, ge=1)
    # Total context, split evenly across slots.
    ctx_size: int = Field(default=8192, ge=256)
    # Extra model names -> GGUF paths, beside the built-in catalog.
    models: dict[str, str] = Field(default_factory=dict)
    # Directories whose .gguf files a registration may name by path; none by default, so a
    # caller cannot make the service read arbitrary files.
    model_roots: list[str] = Field(default_factory=list)
    # llama.cpp log verbosity (0 = errors only).
    verbosity: int = 0


class LlamaCppProvider:
    holds_weights = True

    def __init__(self, config: Config) -> None:
        self.config = config
        self._servers: dict[str, Any] = {}
        self._load_lock = asyncio.Lock()
        # One thread per slot of each model, plus headroom for loads.
        self._executor = ThreadPoolExecutor(max_workers=config.parallel * 4, thread_name_prefix="llama-cpp")

    def _resolve_path(self, provider_model_id: str) -> Path:
        return local_model_path(
            "llama-cpp", provider_model_id, mapped=self.config.models, roots=self.config.model_roots,
            loadable=lambda path: path.suffix == ".gguf" and path.is_file(), kind=".gguf file",
        )  # fmt: skip

    def _start_server(self, path: Path) -> Any:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = self.config.parallel
        params.n_ctx = self.config.ctx_size
        params.cpuparams.n_threads = self.config.n_threads
        params.cpuparams.poll = self.config.poll
        params.cpuparams_batch.n_threads = self.config.n_threads_batch or self.config.n_threads
        params.cpuparams_batch.poll = self.config.poll
        params.verbosity = self.config.verbosity
        params.warmup = False
        return xllamacpp.Server(params)

    async def load_model(self, provider_model_id: str, model_type: str) -> dict[str, Any]:
        if model_type != "llm":
            raise InvalidArgument(f"llama-cpp serves llm models, not {model_type!r}", param="model_type")
        path = self._resolve_path(provider_model_id)
        if not path.is_file():
            raise InvalidArgument(f"llama-cpp cannot load {provider_model_id!r}: no GGUF file at {path}", param="provider_model_id")
        loop = asyncio.get_running_loop()
        async with self._load_lock:
            if provider_model_id not in self._servers:
                try:
                    self._servers[provider_model_id] = await loop.run_in_executor(self._executor, self._start_server, path)
                except Exception as exc:
                    raise InvalidArgument(f"llama-cpp failed to load {path.name}: {exc}", param="provider_model_id") from exc
        template = await loop.run_in_executor(self._executor, read_string, path, "tokenizer.chat_template")
        return {
            "context_length": self.config.ctx_size // self.config.parallel,
            # A template that renders `tools` lets llama.cpp parse the model's own calls.
            "tool_calling": NATIVE if template and "tools" in template else CONSTRAINED,
        }

    async def unload_model(self, provider_model_id: str) -> None:
        self._servers.pop(provider_model_id, None)

    def _server(self, provider_model_id: str) -> Any:
        try:
            return self._servers[provider_model_id]
        except KeyError:
            raise Unavailable(f"model {provider_model_id!r} is not loaded on this replica") from None

    async def _call(self, handler: str, provider_model_id: str, request: dict[str, Any], param: str) -> dict[str, Any]:
        server = self._server(provider_model_id)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, getattr(server, handler), _llama_request(request))
        except ValueError as exc:  # xllamacpp's answer to a request llama.cpp cannot run
            raise InvalidArgument(str(exc)) from None
        _raise_for_error(result, param)
        return result

    async def _stream(self, handler: str, provider_model_id: str, request: dict[str, Any], param: str) -> AsyncIterator[dict[str, Any]]:
        server = self._server(provider_model_id)
        request = _llama_request(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def on_chunk(chunk: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)

        def run() -> None:
            try:
                result = getattr(server, handler)({**request, "stream": True}, on_chunk)
                if result:
                    loop.call_soon_threadsafe(queue.put_nowait, result)
            except ValueError as exc:  # xllamacpp's answer to a request llama.cpp cannot run
                loop.call_soon_threadsafe(queue.put_nowait, InvalidArgument(str(exc)))
            except Exception as exc:  # surfaced to the consumer below
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _END)

        future = loop.run_in_executor(self._executor, run)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                _raise_for_error(item, param)
                yield item
        finally:
            await future if future.done() else None

    async def chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self._call("handle_chat_completions", provider_model_id, request, "messages")

    def stream_chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._stream("handle_chat_completions", provider_model_id, request, "messages")

    async def completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self._call("handle_completions", provider_model_id, request, "prompt")

    def stream_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._stream("handle_completions", provider_model_id, request, "prompt")

    async def embeddings(self, provider_model_id: str, inputs: list[str], dimensions: int | None) -> EmbeddingResult:
        raise FailedPrecondition("llama-cpp models here are llm models; use an embedding model", param="model")

    async def close(self) -> None:
        self._servers.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _lark_regex(pattern: str) -> str:
    """A Python-style regex as a Lark /.../ literal: slashes escaped, and the anchors
    dropped, since the grammar matches the whole output anyway."""
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    return "/" + re.sub(r"(\\.)|/", lambda m: m.group(1) or "\\/", pattern) + "/"


def _llama_request(request: dict[str, Any]) -> dict[str, Any]:
    """vLLM's extra fields in llama.cpp's terms; guided decoding becomes a JSON schema or an
    LLGuidance (Lark) grammar, the grammar dialect this llama.cpp build compiles."""
    mapped = {_RENAMED.get(k, k): v for k, v in request.items() if k not in ("guided_json", "guided_regex", "guided_choice")}
    if "guided_json" in request:
        mapped["json_schema"] = request["guided_json"]
    elif "guided_regex" in request:
        mapped["grammar"] = f"%llguidance {{}}\nstart: {_lark_regex(request['guided_regex'])}\n"
    elif request.get("guided_choice"):
        mapped["grammar"] = "%llguidance {}\nstart: " + " | ".join(json.dumps(c, ensure_ascii=False) for c in request["guided_choice"]) + "\n"
    return mapped


def _raise_for_error(result: dict[str, Any], param: str) -> None:
    """llama.cpp answers errors in OpenAI's envelope with an HTTP status as `code`."""
    error = result.get("error") if isinstance(result, dict) else None
    if not error:
        return
    message = error.get("message", "llama.cpp error") if isinstance(error, dict) else str(error)
    status = error.get("code") if isinstance(error, dict) else None
    if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
        raise InvalidArgument(f"`{param}` is too long for the model's context: {message}", param=param, reason="context_length_exceeded")
    if status == 400:
        raise InvalidArgument(message)
    if status == 404:
        raise NotFound(message)
    if status == 501:
        raise FailedPrecondition(message)
    if status == 503:
        raise Unavailable(message)
    raise StackmeshError(f"llama.cpp failed: {message}")


async def create(config: Config, context: Any) -> LlamaCppProvider:
    return LlamaCppProvider(config)
