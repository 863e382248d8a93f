"""OpenAI moderation results built from shield runs over one input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackmesh_safety.providers.base import ShieldResult

# OpenAI's categories (omni-moderation); every result carries all of them, so clients that
# read e.g. `result.categories.violence` work whatever shields ran.
OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass
class ModerationResult:
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]
    user_message: str | None
    metadata: dict[str, Any]


def merge(runs: list[tuple[str, ShieldResult]]) -> ModerationResult:
    """One input's result from every shield that ran on it: a category is flagged when any
    shield flags it and scores the highest any shield gave; per-shield violations go to metadata."""
    scores = dict.fromkeys(OPENAI_CATEGORIES, 0.0)
    flagged: set[str] = set()
    violations: dict[str, Any] = {}
    user_message = None
    for shield_id, result in runs:
        for category, score in result.scores.items():
            scores[category] = max(scores.get(category, 0.0), score)
        flagged |= result.flagged
        if result.violation is not None:
            violation = result.violation
            violations[shield_id] = {"violation_level": violation.level, "user_message": violation.user_message, **violation.metadata}
            user_message = user_message or violation.user_message
    return ModerationResult(
        flagged=bool(flagged),
        categories={category: category in flagged for category in scores},
        category_scores=scores,
        # Shields read text only.
        category_applied_input_types={category: ["text"] for category in scores},
        user_message=user_message,
        metadata={"shields": [shield_id for shield_id, _ in runs], "violations": violations},
    )
