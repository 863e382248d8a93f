"""inline::code-scanner: insecure Python in messages (model output, tool-call code), with bandit.

The violation level follows the worst finding: HIGH severity is an error, MEDIUM a
warning, LOW information. Fenced code in other languages (bandit reads Python only) is
reported as an `info` violation naming the unscanned languages, not passed as clean.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict

from stackmesh_safety.detectors.python_code import SEVERITIES, Issue, Scanner, snippets
from stackmesh_safety.messages import Message
from stackmesh_safety.providers.base import Shield, ShieldResult, Violation, parse_params

Level = Literal["low", "medium", "high"]
CATEGORY = "insecure-code"
_VIOLATION_LEVEL = {"LOW": "info", "MEDIUM": "warn", "HIGH": "error"}
_SCORE = {"LOW": 0.3, "MEDIUM": 0.6, "HIGH": 1.0}


class Config(BaseModel):
    # Findings below these bandit ratings are ignored (overridable per shield).
    min_severity: Level = "medium"
    min_confidence: Level = "medium"


class ShieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_severity: Level | None = None
    min_confidence: Level | None = None


def _rank(level: str) -> int:
    return SEVERITIES.index(level.upper())


class CodeScannerProvider:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._scanner = Scanner()
        # One thread: scans are short and CPU-bound, and bandit's test set is shared.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="code-scanner")

    async def validate_shield(self, shield: Shield) -> None:
        parse_params(ShieldParams, shield.params)

    def _scan(self, messages: Sequence[Message], min_severity: str, min_confidence: str) -> tuple[list[Issue], list[str], int]:
        found, unscanned = snippets(list(messages))
        issues = [
            issue
            for snippet in found
            for issue in self._scanner.scan(snippet)
            if _rank(issue.severity) >= _rank(min_severity) and _rank(issue.confidence) >= _rank(min_confidence)
        ]
        return issues, unscanned, len(found)

    async def run_shield(self, shield: Shield, messages: Sequence[Message], params: dict[str, Any]) -> ShieldResult:
        options = parse_params(ShieldParams, params)
        min_severity = options.min_severity or self.config.min_severity
        min_confidence = options.min_confidence or self.config.min_confidence
        loop = asyncio.get_running_loop()
        issues, unscanned, scanned = await loop.run_in_executor(self._executor, self._scan, messages, min_severity, min_confidence)
        worst = max((issue.severity for issue in issues), key=_rank, default=None)
        scores = {CATEGORY: _SCORE[worst] if worst else 0.0}
        if worst is None and unscanned:
            # Not a finding, but not a clean bill either: say what was not checked.
            metadata = {"violation_type": "unscanned_code", "unscanned_languages": unscanned, "snippets_scanned": scanned}
            return ShieldResult(Violation("info", None, metadata), scores, frozenset())
        if worst is None:
            return ShieldResult(None, scores, frozenset())
        tests = sorted({f"{issue.test_id} {issue.test_name}" for issue in issues})
        violation = Violation(
            level=_VIOLATION_LEVEL[worst],
            user_message=f"The code has security issues ({'; '.join(tests)}).",
            metadata={
                "violation_type": "insecure_code",
                "issues": [asdict(issue) for issue in issues],
                "snippets_scanned": scanned,
                "unscanned_languages": unscanned,
            },
        )
        return ShieldResult(violation, scores, frozenset({CATEGORY}))

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def create(config: Config, context: Any) -> CodeScannerProvider:
    # bandit warns, per snippet, that it cannot derive a module name from a path it never had.
    logging.getLogger("bandit").setLevel(logging.ERROR)
    return CodeScannerProvider(config)
