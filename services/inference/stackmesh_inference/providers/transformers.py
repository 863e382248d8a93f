"""inline::transformers: causal language models on transformers (torch), in process.

Loads a Hugging Face model directory (a fine-tuned checkpoint, say) or a GGUF file through
transformers' GGUF loader, which dequantises it. Generation runs on one worker thread per
provider — torch already parallelises inside a forward pass, and requests queue rather than
thrash a small box — and each token reaches the event loop as soon as it is sampled.
Structured output and guided decoding are enforced by LLGuidance, the grammar engine of our
llama.cpp build, as a logits processor.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Literal

from pydantic import BaseModel, Field

from stackmesh_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from stackmesh_inference.providers.base import EmbeddingResult
from stackmesh_inference.providers.local_models import local_model_path
from stackmesh_inference.tools import CONSTRAINED, NATIVE

if TYPE_CHECKING:  # hf_generation imports torch: loaded with the first model, not at start-up
    from stackmesh_inference.providers.hf_generation import Finish, Job, Piece

_END = object()


class Config(BaseModel):
    # torch intra-op threads (process-wide, shared with sentence-transformers).
    torch_threads: int = Field(default=1, ge=1)
    # Weights dtype; GGUF files are dequantised to it.
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    # Extra model names -> model directories or .gguf files, beside the packaged catalog.
    models: dict[str, str] = Field(default_factory=dict)
    # Directories whose checkpoints and .gguf files a registration may name by path; none
    # by default, so a caller cannot make the service read arbitrary files. A relative one is
    # under the stack's state dir (where the post_training service exports its models).
    model_roots: list[str] = Field(default_factory=list)


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    context_length: int
    grammar_tokenizer: Any  # the tokenizer as llguidance sees it


def _text_content(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with text-part lists joined into strings, which every chat template renders."""
    plain = []
    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            if any(part.get("type") != "text" for part in content):
                raise InvalidArgument("inline::transformers models here take text content only", param=f"messages[{index}].content")
            message = {**message, "content": "".join(part.get("text", "") for part in content)}
        elif content is None:
            message = {**message, "content": ""}
        plain.append(message)
    return plain


class TransformersProvider:
    holds_weights = True

    def __init__(self, config: Config) -> None:
        self.config = config
        self._models: dict[str, _Loaded] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transformers")

    def _resolve_path(self, provider_model_id: str) -> Path:
        return local_model_path(
            "transformers", provider_model_id, mapped=self.config.models, roots=self.config.model_roots,
            loadable=lambda path: path.is_dir() or path.suffix == ".gguf" and path.is_file(), kind="model directory or .gguf file",
        )  # fmt: skip

    def _load(self, path: Path) -> _Loaded:
        # Weights come from local files; never reach for a hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import llguidance.hf
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.config.torch_threads)
        directory, extra = (path.parent, {"gguf_file": path.name}) if path.suffix == ".gguf" else (path, {})
        tokenizer = AutoTokenizer.from_pretrained(directory, **extra)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=getattr(torch, self.config.dtype), **extra).eval()
        grammar_tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=model.config.vocab_size, eos_token=model.generation_config.eos_token_id)
        return _Loaded(model, tokenizer, model.config.max_position_embeddings, grammar_tokenizer)

    async def load_model(self, provider_model_id: str, model_type: str) -> dict[str, Any]:
        if model_type != "llm":
            raise InvalidArgument(f"transformers serves llm models, not {model_type!r}", param="model_type")
        path = self._resolve_path(provider_model_id)
        if provider_model_id not in self._models:
            loop = asyncio.get_running_loop()
            try:
                self._models[provider_model_id] = await loop.run_in_executor(self._executor, self._load, path)
            except Exception as exc:
                raise InvalidArgument(f"transformers failed to load {path}: {exc}", param="provider_model_id") from exc
        loaded = self._models[provider_model_id]
        template = loaded.tokenizer.chat_template or ""
        return {"context_length": loaded.context_length, "tool_calling": NATIVE if "tools" in template else CONSTRAINED}

    async def unload_model(self, provider_model_id: str) -> None:
        self._models.pop(provider_model_id, None)

    def _model(self, provider_model_id: str) -> _Loaded:
        try:
            return self._models[provider_model_id]
        except KeyError:
            raise Unavailable(f"model {provider_model_id!r} is not loaded on this replica") from None

    def _grammar(self, loaded: _Loaded, request: dict[str, Any]) -> Any:
        import llguidance

        from stackmesh_inference.providers.hf_generation import GrammarConstraint, grammar_source

        source = grammar_source(request)
        if source is None:
            return None
        grammar, param = source
        error = llguidance.LLMatcher.validate_grammar(grammar, loaded.grammar_tokenizer)
        if error:
            raise InvalidArgument(f"`{param}` cannot be enforced: {error}", param=param)
        matcher = llguidance.LLMatcher(loaded.grammar_tokenizer, grammar, log_level=1)
        return GrammarConstraint(matcher, loaded.model.config.vocab_size)

    def _chat_inputs(self, loaded: _Loaded, request: dict[str, Any]) -> Any:
        from jinja2 import TemplateError

        try:
            return loaded.tokenizer.apply_chat_template(
                _text_content(request["messages"]),
                tools=request.get("tools"),
                add_generation_prompt=True,
                return_dict=True,
                return_tensors="pt",
            )
        except TemplateError as exc:
            raise InvalidArgument(f"the model's chat template rejects these messages: {exc}", param="messages") from None

    async def _start(self, loaded: _Loaded, request: dict[str, Any], param: str, top: int | None, inputs_of: Callable[[], Any]) -> Job:
        """Prepares a generation on the worker thread — template, grammar, context check, so
        bad input fails before any chunk is sent — then starts it there."""
        from stackmesh_inference.providers.hf_generation import build_job, run_job

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def prepare() -> Job:
            grammar = self._grammar(loaded, request)
            return build_job(loaded.model, loaded.tokenizer, inputs_of(), request, loaded.context_length, param, grammar, emit, top)

        job = await loop.run_in_executor(self._executor, prepare)

        def run() -> None:
            try:
                emit(run_job(loaded.model, job))
            except Exception as exc:  # surfaced to the consumer in _pieces
                emit(exc)
            finally:
                emit(_END)

        job.queue = queue
        loop.run_in_executor(self._executor, run)
        return job

    @staticmethod
    async def _pieces(job: Job) -> AsyncIterator[Piece | Finish]:
        """The generation's Pieces as they are sampled, then its Finish."""
        while (item := await job.queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item

    async def _chat_chunks(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        from stackmesh_inference.providers.hf_generation import Finish

        loaded = self._model(provider_model_id)
        top = request.get("top_logprobs", 0) if request.get("logprobs") else None
        job = await self._start(loaded, request, "messages", top, lambda: self._chat_inputs(loaded, request))
        base = {"id": f"chatcmpl-{secrets.token_hex(12)}", "object": "chat.completion.chunk", "created": int(time.time()), "model": provider_model_id}
        try:
            yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
            async for item in self._pieces(job):
                if isinstance(item, Finish):
                    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": item.reason}]}
                    yield {**base, "choices": [], "usage": _usage(item)}
                else:
                    choice: dict[str, Any] = {"index": 0, "delta": {"content": item.text}, "finish_reason": None}
                    if top is not None:
                        choice["logprobs"] = {"content": item.logprobs}
                    yield {**base, "choices": [choice]}
        finally:
            # A consumer that stops early (a client gone) ends generation at the next token.
            job.streamer.cancelled.set()

    async def _text_chunks(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        from stackmesh_inference.providers.hf_generation import Finish

        if request.get("suffix"):
            raise InvalidArgument("inline::transformers models do not fill in the middle (`suffix`)", param="suffix")
        loaded = self._model(provider_model_id)
        top = request.get("logprobs")
        job = await self._start(loaded, request, "prompt", top, lambda: loaded.tokenizer(request["prompt"], return_tensors="pt"))
        base = {"id": f"cmpl-{secrets.token_hex(12)}", "object": "text_completion", "created": int(time.time()), "model": provider_model_id}
        try:
            if request.get("echo"):
                yield {**base, "choices": [{"index": 0, "text": request["prompt"], "finish_reason": None}]}
            async for item in self._pieces(job):
                if isinstance(item, Finish):
                    yield {**base, "choices": [{"index": 0, "text": "", "finish_reason": item.reason}]}
                    yield {**base, "choices": [], "usage": _usage(item)}
                else:
                    choice: dict[str, Any] = {"index": 0, "text": item.text, "finish_reason": None}
                    if top is not None:
                        choice["logprobs"] = {"content": item.logprobs}
                    yield {**base, "choices": [choice]}
        finally:
            job.streamer.cancelled.set()

    async def chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return await _assemble(self._chat_chunks(provider_model_id, request), chat=True)

    def stream_chat_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._chat_chunks(provider_model_id, request)

    async def completion(self, provider_model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return await _assemble(self._text_chunks(provider_model_id, request), chat=False)

    def stream_completion(self, provider_model_id: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._text_chunks(provider_model_id, request)

    async def embeddings(self, provider_model_id: str, inputs: list[str], dimensions: int | None) -> EmbeddingResult:
        raise FailedPrecondition("transformers models here are llm models; use an embedding model", param="model")

    async def close(self) -> None:
        self._models.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _usage(finish: Finish) -> dict[str, int]:
    return {
        "prompt_tokens": finish.prompt_tokens,
        "completion_tokens": finish.completion_tokens,
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }


async def _assemble(chunks: AsyncIterator[dict[str, Any]], chat: bool) -> dict[str, Any]:
    """A whole completion from its own stream."""
    text: list[str] = []
    logprobs: list[dict[str, Any]] | None = None
    first: dict[str, Any] = {}
    finish_reason, usage = None, None
    async for chunk in chunks:
        first = first or chunk
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            text.append((choice["delta"].get("content") if chat else choice.get("text")) or "")
            finish_reason = choice.get("finish_reason") or finish_reason
            if "logprobs" in choice:
                logprobs = (logprobs or []) + choice["logprobs"]["content"]
    choice = {"index": 0, "finish_reason": finish_reason}
    if chat:
        choice["message"] = {"role": "assistant", "content": "".join(text)}
    else:
        choice["text"] = "".join(text)
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    kind = "chat.completion" if chat else "text_completion"
    return {"id": first["id"], "object": kind, "created": first["created"], "model": first["model"], "choices": [choice], "usage": usage}


async def create(config: Config, context: Path) -> TransformersProvider:
    """`context` is the stack's state dir."""
    roots = [root if Path(root).is_absolute() else str(context / root) for root in config.model_roots]
    return TransformersProvider(config.model_copy(update={"model_roots": roots}))
