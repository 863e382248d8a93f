"""inline::code-scanner: insecure Python in messages (model output, tool-call code), with bandit.

The violation level follows the worst finding: HIGH severity is an error, MEDIUM a
warning, LOW information. Code that was not scanned is reported as an `info` violation,
not passed as clean: fenced code in other languages (bandit reads Python only), named by
language, and Python nested too deeply to parse, listed in `unparsed_snippets`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict

from stackmesh_safety.detectors.python_code import SEVERITIES, Issue, NestedTooDeeply, scanner, snippets
from stackmesh_safety.messages import Message
from stackmesh_safety.providers.base import ProviderContext, Shield, ShieldResult, Violation, parse_params
from stackmesh_safety.workers import DetectorWorkers

Level = Literal["low", "medium", "high"]
CATEGORY = "insecure-code"
_VIOLATION_LEVEL = {"LOW": "info", "MEDIUM": "warn", "HIGH": "error"}
_SCORE = {"LOW": 0.3, "MEDIUM": 0.6, "HIGH": 1.0}
# Issues listed in metadata (`issues_total` counts them all): a long program can have
# thousands, and turning them into the reply is event-loop work.
MAX_ISSUES = 100


class Config(BaseModel):
    # Findings below these bandit ratings are ignored (overridable per shield).
    min_severity: Level = "medium"
    min_confidence: Level = "medium"


class ShieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_severity: Level | None = None
    min_confidence: Level | None = None


@dataclass(frozen=True)
class Scan:
    issues: list[Issue]
    unscanned_languages: list[str]
    # {"message_index", "source", "reason"} of each Python snippet that could not be parsed.
    unparsed_snippets: list[dict[str, Any]]
    snippets_scanned: int


def _rank(level: str) -> int:
    return SEVERITIES.index(level.upper())


def _scan(messages: list[Message], min_severity: str, min_confidence: str) -> Scan:
    """Runs in a worker process."""
    found, unscanned = snippets(messages)
    issues: list[Issue] = []
    unparsed: list[dict[str, Any]] = []
    for snippet in found:
        try:
            issues += scanner().scan(snippet)
        except NestedTooDeeply:
            # The other snippets are still scanned.
            unparsed.append({"message_index": snippet.message_index, "source": snippet.source, "reason": "nested too deeply to parse"})
    kept = [issue for issue in issues if _rank(issue.severity) >= _rank(min_severity) and _rank(issue.confidence) >= _rank(min_confidence)]
    return Scan(kept, unscanned, unparsed, len(found) - len(unparsed))


class CodeScannerProvider:
    def __init__(self, config: Config, workers: DetectorWorkers) -> None:
        self.config = config
        self.workers = workers

    async def validate_shield(self, shield: Shield) -> None:
        parse_params(ShieldParams, shield.params)

    async def run_shield(self, shield: Shield, messages: Sequence[Message], params: dict[str, Any]) -> ShieldResult:
        options = parse_params(ShieldParams, params)
        min_severity = options.min_severity or self.config.min_severity
        min_confidence = options.min_confidence or self.config.min_confidence
        scan = await self.workers.run(_scan, list(messages), min_severity, min_confidence)
        worst = max((issue.severity for issue in scan.issues), key=_rank, default=None)
        scores = {CATEGORY: _SCORE[worst] if worst else 0.0}
        unchecked = {"unscanned_languages": scan.unscanned_languages, "unparsed_snippets": scan.unparsed_snippets}
        if worst is None and (scan.unscanned_languages or scan.unparsed_snippets):
            # Not a finding, but not a clean bill either: say what was not checked.
            metadata = {"violation_type": "unscanned_code", **unchecked, "snippets_scanned": scan.snippets_scanned}
            return ShieldResult(Violation("info", None, metadata), scores, frozenset())
        if worst is None:
            return ShieldResult(None, scores, frozenset())
        tests = sorted({f"{issue.test_id} {issue.test_name}" for issue in scan.issues})
        violation = Violation(
            level=_VIOLATION_LEVEL[worst],
            user_message=f"The code has security issues ({'; '.join(tests)}).",
            metadata={
                "violation_type": "insecure_code",
                "issues": [asdict(issue) for issue in scan.issues[:MAX_ISSUES]],
                "issues_total": len(scan.issues),
                "snippets_scanned": scan.snippets_scanned,
                **unchecked,
            },
        )
        return ShieldResult(violation, scores, frozenset({CATEGORY}))

    async def close(self) -> None:
        """The workers belong to the service."""


async def create(config: Config, context: ProviderContext) -> CodeScannerProvider:
    return CodeScannerProvider(config, context.workers)
