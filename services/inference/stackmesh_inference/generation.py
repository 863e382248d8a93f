"""Runs chat and text completions on a model's provider: provider requests, n choices
(one provider call each, on parallel slots), tool calls, usage, streams merged."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

from stackmesh_common import usage
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.telemetry import metrics
from stackmesh_inference.chunks import merge
from stackmesh_inference.convert import legacy_logprobs
from stackmesh_inference.models import RegisteredModel
from stackmesh_inference.providers.base import InferenceProvider
from stackmesh_inference.tools import NATIVE, ToolPlan, finish_choice, plan, provider_request, stream_choice

# Fields of ours that providers do not take: the servicer handles them.
_GATEWAY_ONLY = ("model", "stream", "store", "metadata", "user", "n", "stream_options")
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
_END = object()
# Provider calls one request has in flight: a request of many choices (prompts × n) queues
# its own rather than taking every slot of the backend at once.
CHOICES_IN_FLIGHT = 4
# OpenAI's default for legacy completions; without one a prompt list could run each choice
# to the end of its context.
DEFAULT_COMPLETION_MAX_TOKENS = 16


@dataclass
class Generation:
    """One client request as provider calls: one request per returned choice."""

    provider: InferenceProvider
    provider_model_id: str
    model_id: str
    requests: list[dict[str, Any]]
    tools: ToolPlan
    include_usage: bool


def _shared_request(body: dict[str, Any], model: RegisteredModel) -> dict[str, Any]:
    request = {k: v for k, v in body.items() if k not in _GATEWAY_ONLY}
    for name in ("max_completion_tokens", "max_tokens"):
        limit = model.params.get("context_length")
        if name in request and limit and request[name] > limit:
            raise InvalidArgument(f"`{name}` must be at most the context length of model `{model.id}`, {limit}", param=name)
    # Providers take one name for the limit; the newer OpenAI one wins.
    if "max_completion_tokens" in request:
        request["max_tokens"] = request.pop("max_completion_tokens")
    return request


def _per_choice(request: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """n copies of a request; with a seed, choice i samples with seed + i, so choices differ
    from each other and a repeated request repeats them all."""
    if "seed" not in request:
        return [request] * n
    return [{**request, "seed": request["seed"] + i} for i in range(n)]


def chat_generation(body: dict[str, Any], model: RegisteredModel, provider: InferenceProvider, stream: bool) -> Generation:
    mode = model.params.get("tool_calling", NATIVE)
    tools = plan(body, mode)
    request = provider_request(_shared_request(body, model), tools, mode)
    if stream:
        request["stream_options"] = {"include_usage": True}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return Generation(provider, model.provider_resource_id, model.id, _per_choice(request, body.get("n", 1)), tools, include_usage)


def completion_generation(body: dict[str, Any], model: RegisteredModel, provider: InferenceProvider, stream: bool) -> Generation:
    request = _shared_request(body, model)
    prompts = request.pop("prompt")
    request.setdefault("max_tokens", DEFAULT_COMPLETION_MAX_TOKENS)
    if stream:
        request["stream_options"] = {"include_usage": True}
    requests = [
        choice for prompt in ([prompts] if isinstance(prompts, str) else prompts) for choice in _per_choice({**request, "prompt": prompt}, body.get("n", 1))
    ]
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return Generation(provider, model.provider_resource_id, model.id, requests, ToolPlan(), include_usage)


def _sum_usage(usages: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(u.get(key, 0) for u in usages) for key in _USAGE_KEYS}


def _account(generation: Generation, spent: dict[str, int], seconds: float) -> None:
    """Spent tokens go to the principal's quota and to the metrics."""
    usage.record(spent["total_tokens"])
    metrics.TOKENS.labels(generation.model_id, "prompt").inc(spent["prompt_tokens"])
    metrics.TOKENS.labels(generation.model_id, "completion").inc(spent["completion_tokens"])
    if spent["completion_tokens"] and seconds > 0:
        metrics.TOKENS_PER_SECOND.labels(generation.model_id).observe(spent["completion_tokens"] / seconds)


async def _gather(generation: Generation, call: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    in_flight = asyncio.Semaphore(CHOICES_IN_FLIGHT)
    started = time.perf_counter()

    async def bounded(request: dict[str, Any]) -> dict[str, Any]:
        async with in_flight:
            return await call(generation.provider_model_id, request)

    results = await asyncio.gather(*(bounded(r) for r in generation.requests))
    merged = dict(results[0])
    merged["choices"] = [dict(result["choices"][0], index=i) for i, result in enumerate(results)]
    merged["usage"] = _sum_usage([r.get("usage") or {} for r in results])
    _account(generation, merged["usage"], time.perf_counter() - started)
    merged["model"] = generation.model_id
    return merged


async def complete_chat(generation: Generation) -> dict[str, Any]:
    completion = await _gather(generation, generation.provider.chat_completion)
    completion["choices"] = [finish_choice(c, generation.tools) for c in completion["choices"]]
    return completion


async def complete_text(generation: Generation) -> dict[str, Any]:
    completion = await _gather(generation, generation.provider.completion)
    for choice in completion["choices"]:
        if choice.get("logprobs"):
            choice["logprobs"], _ = legacy_logprobs(choice["logprobs"], 0)
    return completion


async def _merge(streams: list[AsyncIterator[dict[str, Any]]]) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """Chunks of several streams as they come, tagged with their stream's position; chunks
    of one stream already waiting when the consumer gets to them go on as one."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    in_flight = asyncio.Semaphore(CHOICES_IN_FLIGHT)

    async def pump(index: int, stream: AsyncIterator[dict[str, Any]]) -> None:
        try:
            async with in_flight:
                async for chunk in stream:
                    queue.put_nowait((index, chunk))
            queue.put_nowait(_END)
        except BaseException as exc:
            queue.put_nowait(exc)
            raise

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    try:
        running, held = len(tasks), None
        while running:
            item, held = held if held is not None else await queue.get(), None
            if item is _END:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            index, chunk = item
            while not queue.empty():
                following = queue.get_nowait()
                merged = merge(chunk, following[1]) if isinstance(following, tuple) and following[0] == index else None
                if merged is None:
                    held = following
                    break
                chunk = merged
            yield index, chunk
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _stream(generation: Generation, streams: list[AsyncIterator[dict[str, Any]]], text: bool) -> AsyncIterator[dict[str, Any]]:
    """Merged choices under one id; usage is summed into one final chunk when asked for."""
    usages: dict[int, dict[str, Any]] = {}
    offsets = [0] * len(streams)
    first: dict[str, Any] | None = None
    started = time.perf_counter()
    try:
        async for index, chunk in _merge(streams):
            first = first or chunk
            if chunk.get("usage"):
                usages[index] = chunk["usage"]
            if not chunk.get("choices"):
                continue
            choices = [dict(choice, index=index) for choice in chunk["choices"]]
            if text:
                for choice in choices:
                    if choice.get("logprobs"):
                        choice["logprobs"], offsets[index] = legacy_logprobs(choice["logprobs"], offsets[index])
            rest = {k: v for k, v in chunk.items() if k != "usage"}
            yield {**rest, "id": first["id"], "model": generation.model_id, "choices": choices}
    finally:
        # Also when the client went away: what the provider generated was spent.
        _account(generation, _sum_usage(list(usages.values())), time.perf_counter() - started)
    if generation.include_usage and first is not None:
        yield {**first, "model": generation.model_id, "choices": [], "usage": _sum_usage(list(usages.values()))}


def stream_chat(generation: Generation) -> AsyncIterator[dict[str, Any]]:
    provider, model = generation.provider, generation.provider_model_id
    streams = [stream_choice(provider.stream_chat_completion(model, r), generation.tools) for r in generation.requests]
    return _stream(generation, streams, text=False)


def stream_text(generation: Generation) -> AsyncIterator[dict[str, Any]]:
    provider, model = generation.provider, generation.provider_model_id
    return _stream(generation, [provider.stream_completion(model, r) for r in generation.requests], text=True)
