"""Nearest-neighbour scoring of a text against a labelled corpus of attacks and benign text.

Embeddings are unit vectors (a dot product is the cosine similarity). A text is scored per
window (long documents hide an attack in one paragraph): among its k nearest corpus
examples, the similarity-weighted share of attacks, scaled by how close the nearest attack
is (a ramp from `floor` to `ceiling`), so a text far from every example scores 0 whatever
its neighbours' labels.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

BENIGN = "benign"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Example:
    text: str
    label: str


@dataclass(frozen=True)
class Knn:
    # Chosen by a grid search scored leave-one-out on the shipped corpus only (never the held-out
    # set); bench/prompt_guard_eval.py reports that estimate beside the held-out one.
    k: int = 7
    floor: float = 0.3
    ceiling: float = 0.55


@dataclass(frozen=True)
class Match:
    # Attack likelihood from the neighbours, 0-1.
    score: float
    # Label of the nearest attack example, and its similarity.
    label: str
    similarity: float
    nearest: str


def load_examples(package: str, name: str) -> list[Example]:
    text = resources.files(package).joinpath(name).read_text()
    return [Example(**json.loads(line)) for line in text.splitlines() if line.strip()]


def windows(text: str, max_words: int = 48, max_windows: int = 64) -> list[str]:
    """The text itself when short, else runs of whole sentences of at most ~max_words words
    that overlap by one sentence, so an attack straddling a boundary stays whole in one."""
    words = text.split()
    if len(words) <= max_words:
        return [" ".join(words)] if words else []
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    out: list[str] = []
    start = 0
    while start < len(sentences) and len(out) < max_windows:
        end, count = start, 0
        while end < len(sentences) and (count == 0 or count + len(sentences[end].split()) <= max_words):
            count += len(sentences[end].split())
            end += 1
        out.append(" ".join(" ".join(sentences[start:end]).split()[: max_words * 2]))
        if end >= len(sentences):
            break
        start = max(start + 1, end - 1)
    return out


def score(queries: np.ndarray, vectors: np.ndarray, labels: list[str], texts: list[str], knn: Knn) -> Match:
    """The most attack-like window of a text (rows of `queries`) against the corpus."""
    is_attack = np.array([label != BENIGN for label in labels])
    attack_rows = np.flatnonzero(is_attack)
    k = min(knn.k, len(labels))
    best: Match | None = None
    for row in queries @ vectors.T:
        top = np.argpartition(-row, k - 1)[:k]
        weights = np.clip(row[top], 0.0, None)
        share = float(weights[is_attack[top]].sum() / weights.sum()) if weights.sum() > 0 else 0.0
        nearest = int(attack_rows[np.argmax(row[attack_rows])])
        closeness = float(np.clip((row[nearest] - knn.floor) / (knn.ceiling - knn.floor), 0.0, 1.0))
        candidate = Match(share * closeness, labels[nearest], float(row[nearest]), texts[nearest])
        if best is None or candidate.score > best.score:
            best = candidate
    assert best is not None, "a text has at least one window"
    return best
