"""Which of a dialog's scored answers are kept: Llama Stack's filtering functions, plus a
minimum score. Deterministic, so a job's result can be filtered again from its stored scores."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from stackmesh_post_training.synthetic.request import FilterSpec


@dataclass(frozen=True)
class Candidate:
    """One sampled answer and its score; `score` is None when the scorer gave no number."""

    index: int
    answer: str
    score: float | None
    error: str | None = None


def _nucleus(ranked: list[Candidate], top_p: float) -> list[Candidate]:
    """The best candidates until their softmax-normalised score mass reaches top_p."""
    best = ranked[0].score or 0.0
    # Shifted by the best score so exp() cannot overflow.
    weights = [math.exp((c.score or 0.0) - best) for c in ranked]
    total = sum(weights)
    kept, mass = [], 0.0
    for candidate, weight in zip(ranked, weights):
        kept.append(candidate)
        mass += weight / total
        if mass >= top_p - 1e-9:
            break
    return kept


def kept(candidates: list[Candidate], spec: FilterSpec, seed: str) -> list[Candidate]:
    """The kept candidates, best first (ties in sampling order); `seed` fixes "random"."""
    eligible = [c for c in candidates if c.score is not None and (spec.threshold is None or c.score >= spec.threshold)]
    ranked = sorted(eligible, key=lambda c: (-(c.score or 0.0), c.index))
    if not ranked or spec.function == "none":
        return ranked
    if spec.function == "random":
        return [random.Random(seed).choice(ranked)]
    if spec.top_k is not None:
        ranked = ranked[: spec.top_k]
    if spec.top_p is not None:
        ranked = _nucleus(ranked, spec.top_p)
    return ranked
