"""What runs on the transformers generation thread: OpenAI's sampling fields as generate()
settings and logits processors, and a streamer that turns each sampled token into text (and
its log probability) as soon as it is sampled.

Import only from inside the thread or a provider's `create`: it imports torch.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from stackmesh_common.errors import InvalidArgument


@dataclass
class Piece:
    """Newly generated text, with the OpenAI logprob entries of its tokens when asked for."""

    text: str
    logprobs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Finish:
    reason: str
    prompt_tokens: int
    completion_tokens: int


class OpenAIPenalties(LogitsProcessor):
    """presence_penalty and frequency_penalty as OpenAI defines them: over generated tokens only."""

    def __init__(self, prompt_length: int, presence: float, frequency: float) -> None:
        self.prompt_length, self.presence, self.frequency = prompt_length, presence, frequency

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length :]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores).scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence


class LogitBias(LogitsProcessor):
    def __init__(self, bias: dict[str, float], vocab_size: int) -> None:
        self.bias = torch.zeros(vocab_size)
        for token, value in bias.items():
            if not 0 <= int(token) < vocab_size:
                raise InvalidArgument(f"`logit_bias` names token {token}, outside the vocabulary (0-{vocab_size - 1})", param="logit_bias")
            self.bias[int(token)] = value

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores + self.bias[: scores.shape[-1]]


class LogprobRecorder(LogitsProcessor):
    """Keeps the log-probabilities the next token is drawn from, for the streamer to report."""

    last: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.last = torch.log_softmax(scores[0].float(), dim=-1)
        return scores


class TokenStreamer(BaseStreamer):
    """Receives each sampled token from generate() and emits the text it completes.

    Text that could be the start of a stop string is held back until it is not; a stop
    string ends generation (through `stopping_criteria`) and is cut from the output.
    """

    def __init__(
        self,
        tokenizer: Any,
        stops: list[str],
        eos_ids: set[int],
        emit: Callable[[Piece], None],
        recorder: LogprobRecorder | None,
        top_logprobs: int,
    ) -> None:
        self.tokenizer, self.stops, self.eos_ids, self.emit = tokenizer, stops, eos_ids, emit
        self.recorder, self.top_logprobs = recorder, top_logprobs
        self.ids: list[int] = []
        self.sent = 0  # characters of the decoded text already emitted
        self.pending: list[dict[str, Any]] = []
        self.prompt_seen = False
        self.stopped = False
        self.ended_by_eos = False
        self.cancelled = threading.Event()

    def _logprob_entry(self, token: int) -> dict[str, Any]:
        row = self.recorder.last
        text = self.tokenizer.decode([token])

        def entry(token_id: int, logprob: float) -> dict[str, Any]:
            token_text = self.tokenizer.decode([token_id])
            return {"token": token_text, "logprob": logprob, "bytes": list(token_text.encode())}

        top = torch.topk(row, self.top_logprobs) if self.top_logprobs else None
        return {
            "token": text,
            "logprob": float(row[token]),
            "bytes": list(text.encode()),
            "top_logprobs": [entry(int(i), float(v)) for v, i in zip(top.values, top.indices)] if top is not None else [],
        }

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        token = int(value.reshape(-1)[0])
        if self.recorder is not None:
            self.pending.append(self._logprob_entry(token))
        if token in self.eos_ids:
            self.ended_by_eos = True
            return
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # a character split across tokens: wait for the rest
            return
        held = 0
        for stop in self.stops:
            at = text.find(stop, self.sent)
            if at != -1:
                text, self.stopped = text[:at], True
        if not self.stopped:
            held = max((n for stop in self.stops for n in range(len(stop) - 1, 0, -1) if text.endswith(stop[:n])), default=0)
        self._release(text[self.sent : len(text) - held])

    def _release(self, text: str) -> None:
        if text or self.pending:
            self.emit(Piece(text, self.pending))
            self.sent += len(text)
            self.pending = []

    def end(self) -> None:
        if not self.stopped:
            self._release(self.tokenizer.decode(self.ids, skip_special_tokens=True)[self.sent :])

    @property
    def completion_tokens(self) -> int:
        return len(self.ids) + self.ended_by_eos


class _Halt(StoppingCriteria):
    def __init__(self, streamer: TokenStreamer) -> None:
        self.streamer = streamer

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        stop = self.streamer.stopped or self.streamer.cancelled.is_set()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool)


def _stops(request: dict[str, Any]) -> list[str]:
    stop = request.get("stop")
    return [stop] if isinstance(stop, str) else list(stop or [])


def grammar_source(request: dict[str, Any]) -> tuple[str, str] | None:
    """(LLGuidance grammar, the field it comes from) of the output constraint a request asks
    for, if any. JSON is compact: free whitespace lets a small model wander between tokens."""
    import llguidance

    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        kind, value, param = "json", response_format["json_schema"].get("schema") or {"type": "object"}, "response_format"
    elif response_format.get("type") == "json_object":
        kind, value, param = "json", {"type": "object"}, "response_format"
    elif "guided_json" in request:
        kind, value, param = "json", request["guided_json"], "guided_json"
    elif "guided_regex" in request:
        kind, value, param = "regex", request["guided_regex"], "guided_regex"
    elif request.get("guided_choice"):
        kind, value, param = "lark", "start: " + " | ".join(json.dumps(c, ensure_ascii=False) for c in request["guided_choice"]), "guided_choice"
    else:
        return None
    try:
        if kind == "json":
            return llguidance.LLMatcher.grammar_from_json_schema(value, defaults={"whitespace_flexible": False}), param
        if kind == "regex":
            return llguidance.LLMatcher.grammar_from_regex(value), param
        return llguidance.LLMatcher.grammar_from_lark(value), param
    except ValueError as exc:
        raise InvalidArgument(f"`{param}` cannot be enforced: {exc}", param=param) from None


class GrammarConstraint(LogitsProcessor):
    """Masks every token the grammar does not allow next (LLGuidance, as llama.cpp here uses)."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        import llguidance.torch

        self.matcher = matcher
        self.fill = llguidance.torch.fill_next_token_bitmask
        self.bitmask = llguidance.torch.allocate_token_bitmask(1, vocab_size)
        self.shifts = torch.arange(32, dtype=torch.int32)
        self.started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.started:
            self.matcher.consume_token(int(input_ids[0, -1]))
        self.started = True
        self.fill(self.matcher, self.bitmask, 0)
        # Unpacked by hand: llguidance's own helper is torch.compile'd (seconds on first use).
        allowed = ((self.bitmask[0].unsqueeze(1) >> self.shifts) & 1).flatten()[: scores.shape[-1]].bool()
        return scores.masked_fill(~allowed, float("-inf"))


@dataclass
class Job:
    """One generate() call, and the queue its pieces reach the event loop through."""

    kwargs: dict[str, Any]
    streamer: TokenStreamer
    prompt_tokens: int
    seed: int | None
    queue: Any = None


def build_job(
    model: Any,
    tokenizer: Any,
    inputs: dict[str, torch.Tensor],
    request: dict[str, Any],
    context_length: int,
    param: str,
    grammar: LogitsProcessor | None,
    emit: Callable[[Piece], None],
    top_logprobs: int | None,
) -> Job:
    prompt_tokens = int(inputs["input_ids"].shape[1])
    room = context_length - prompt_tokens
    if room < 1:
        raise InvalidArgument(
            f"`{param}` is too long for the model's context: {prompt_tokens} tokens of {context_length}",
            param=param,
            reason="context_length_exceeded",
        )
    temperature = request.get("temperature", 1.0)
    settings: dict[str, Any] = {
        "max_new_tokens": min(request.get("max_tokens") or room, room),
        "do_sample": temperature > 0,
        "eos_token_id": model.generation_config.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    }
    if temperature > 0:
        # OpenAI's fields default to off, whatever the checkpoint's generation_config says.
        settings["temperature"] = temperature
        settings["top_p"] = request.get("top_p", 1.0)
        settings["top_k"] = max(request.get("top_k", 0), 0)
        if request.get("min_p"):
            settings["min_p"] = request["min_p"]
    if request.get("repetition_penalty"):
        settings["repetition_penalty"] = request["repetition_penalty"]

    processors = LogitsProcessorList()
    if request.get("presence_penalty") or request.get("frequency_penalty"):
        processors.append(OpenAIPenalties(prompt_tokens, request.get("presence_penalty", 0.0), request.get("frequency_penalty", 0.0)))
    if request.get("logit_bias"):
        processors.append(LogitBias(request["logit_bias"], model.config.vocab_size))
    if grammar is not None:
        processors.append(grammar)
    recorder = None
    if top_logprobs is not None:
        recorder = LogprobRecorder()
        processors.append(recorder)
    eos = settings["eos_token_id"]
    eos_ids = set(eos) if isinstance(eos, list) else {eos}
    streamer = TokenStreamer(tokenizer, _stops(request), eos_ids, emit, recorder, top_logprobs or 0)
    kwargs = {
        **inputs,
        **settings,
        "logits_processor": processors,
        "stopping_criteria": StoppingCriteriaList([_Halt(streamer)]),
        "streamer": streamer,
    }
    return Job(kwargs, streamer, prompt_tokens, request.get("seed"))


def run_job(model: Any, job: Job) -> Finish:
    """Blocks until generation ends; the streamer has emitted every piece by then."""
    if job.seed is not None:
        torch.manual_seed(job.seed)
    else:
        torch.seed()
    with torch.inference_mode():
        model.generate(**job.kwargs)
    streamer = job.streamer
    reason = "stop" if streamer.stopped or streamer.ended_by_eos else "length"
    return Finish(reason, job.prompt_tokens, streamer.completion_tokens)
