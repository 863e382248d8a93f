"""inline::prompt-guard: prompt injection and jailbreak detection, offline.

Untrusted messages (user and tool: tool output is where indirect injection arrives) are
embedded with a sentence-embedding model of the inference service (all-MiniLM-L6-v2 by
default) and compared with a shipped corpus of known attacks and benign look-alikes
(nearest neighbours, `detectors.similarity`); phrase rules (`detectors.injection_rules`)
add evidence that similarity misses. The corpus is embedded once, on first use, through
the same model.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from stackmesh_safety.detectors import injection_rules, similarity
from stackmesh_safety.inference_client import GuardInference
from stackmesh_safety.messages import Message
from stackmesh_safety.providers.base import Shield, ShieldResult, Violation, parse_params

log = logging.getLogger("stackmesh.safety.prompt_guard")

CORPUS = ("stackmesh_safety.data", "prompt_guard_corpus.jsonl")
# Moderation category of each label; OpenAI's moderation has none for these.
CATEGORIES = {injection_rules.JAILBREAK: "jailbreak", injection_rules.INJECTION: "prompt-injection"}
UNTRUSTED_ROLES = ("user", "tool")


class Config(BaseModel):
    # An embedding model registered in the inference service.
    embedding_model: str = "all-MiniLM-L6-v2"
    # Flag a message whose combined score reaches this (overridable per shield).
    threshold: float = Field(default=0.5, gt=0, le=1)
    # Nearest neighbours consulted per window.
    k: int = Field(default=similarity.Knn.k, ge=1)
    # Deadline of one embeddings call.
    timeout_s: float = Field(default=30.0, gt=0)
    # Words per window of a long message.
    window_words: int = Field(default=48, ge=8)


class ShieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(default=None, gt=0, le=1)


class PromptGuardProvider:
    def __init__(self, config: Config, inference: GuardInference) -> None:
        self.config = config
        self.inference = inference
        self.knn = similarity.Knn(k=config.k)
        self.examples = similarity.load_examples(*CORPUS)
        self._labels = [example.label for example in self.examples]
        self._texts = [example.text for example in self.examples]
        self._vectors: np.ndarray | None = None
        self._lock = asyncio.Lock()

    async def corpus_vectors(self) -> np.ndarray:
        """The corpus embedded by the configured model; retried on the next call if it failed."""
        async with self._lock:
            if self._vectors is None:
                self._vectors = await self.inference.embed(self.config.embedding_model, self._texts, timeout_s=self.config.timeout_s)
        return self._vectors

    async def warm_up(self) -> None:
        try:
            await self.corpus_vectors()
        except Exception as exc:
            log.warning("prompt-guard corpus not embedded yet (%s); it will be on first use", exc)

    async def validate_shield(self, shield: Shield) -> None:
        parse_params(ShieldParams, shield.params)

    async def run_shield(self, shield: Shield, messages: Sequence[Message], params: dict[str, Any]) -> ShieldResult:
        options = parse_params(ShieldParams, params)
        threshold = options.threshold or self.config.threshold
        checked = [(index, m) for index, m in enumerate(messages) if m.role in UNTRUSTED_ROLES and m.text.strip()]
        scores = dict.fromkeys(CATEGORIES.values(), 0.0)
        if not checked:
            return ShieldResult(None, scores, frozenset())
        corpus = await self.corpus_vectors()
        windows = [similarity.windows(m.text, self.config.window_words) for _, m in checked]
        # One embeddings call for every window of every message.
        embedded = await self.inference.embed(
            self.config.embedding_model, [w for ws in windows for w in ws], timeout_s=self.config.timeout_s
        )
        assessed = []
        row = 0
        for (index, message), message_windows in zip(checked, windows):
            match = similarity.score(embedded[row : row + len(message_windows)], corpus, self._labels, self._texts, self.knn)
            row += len(message_windows)
            assessment = injection_rules.combine(match.score, match.label, injection_rules.matches(message.text))
            category = CATEGORIES[assessment.label]
            scores[category] = max(scores[category], assessment.score)
            assessed.append((assessment, index, match))
        assessment, index, match = max(assessed, key=lambda item: item[0].score)
        if assessment.score < threshold:
            return ShieldResult(None, scores, frozenset())
        violation = Violation(
            level="error",
            user_message="The request looks like a prompt injection or jailbreak attempt and was blocked.",
            metadata={
                "violation_type": assessment.label,
                "score": round(assessment.score, 4),
                "threshold": threshold,
                "message_index": index,
                "rules": list(assessment.rules),
                "nearest_attack": {"text": match.nearest, "similarity": round(match.similarity, 4)},
            },
        )
        return ShieldResult(violation, scores, frozenset({CATEGORIES[assessment.label]}))

    async def close(self) -> None:
        """The inference channel belongs to the service."""


async def create(config: Config, context: Any) -> PromptGuardProvider:
    provider = PromptGuardProvider(config, context.require_inference("inline::prompt-guard"))
    # Embedding the corpus takes a second or two; do it now rather than on the first request.
    context.background(provider.warm_up())
    return provider
