"""What a fuzz run saw: cases sent, statuses, and the failures worth reading, shared by the
pytest fuzzers and bench/fuzz.py."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Examples per operation (and per generation mode) for the CI-size run; bench/fuzz.py runs more.
EXAMPLES_ENV = "STACKMESH_FUZZ_EXAMPLES"
# A failure list this long says enough; the rest are counted.
MAX_REPORTED = 40


def examples(default: int) -> int:
    return int(os.environ.get(EXAMPLES_ENV, default))


@dataclass
class Outcomes:
    cases: Counter[str] = field(default_factory=Counter)  # by fuzzer ("rest positive", "grpc", ...)
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "404", "INVALID_ARGUMENT", ...
    # One example per kind of failure (its key), with how often that kind happened.
    failures: dict[str, str] = field(default_factory=dict)
    failure_kinds: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # how long the run took (grpc_messages.run sets it)

    def record(self, fuzzer: str, status: str) -> None:
        self.cases[fuzzer] += 1
        self.statuses[status] += 1

    @property
    def failure_count(self) -> int:
        return sum(self.failure_kinds.values())

    def fail(self, kind: str, example: str) -> None:
        """Records a failure; `kind` (route and symptom) groups the same bug hit many times."""
        self.failure_kinds[kind] += 1
        if kind not in self.failures and len(self.failures) < MAX_REPORTED:
            self.failures[kind] = example[:1500]

    def merge(self, other: Outcomes) -> None:
        self.cases.update(other.cases)
        self.statuses.update(other.statuses)
        self.failure_kinds.update(other.failure_kinds)
        for kind, example in other.failures.items():
            if kind not in self.failures and len(self.failures) < MAX_REPORTED:
                self.failures[kind] = example

    def report(self) -> str:
        lines = [f"{sum(self.cases.values())} cases: {dict(self.cases)}", f"statuses: {dict(sorted(self.statuses.items()))}"]
        if self.failure_count:
            lines.append(f"{self.failure_count} failures of {len(self.failure_kinds)} kinds:")
            lines += [f"- [{self.failure_kinds[kind]}x] {kind}\n    {example}" for kind, example in self.failures.items()]
        return "\n".join(lines)


def envelope_problem(body: bytes) -> str | None:
    """Why `body` is not OpenAI's error envelope, or None when it is."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    if not isinstance(data, dict) or set(data) != {"error"} or not isinstance(data["error"], dict):
        return f"not {{'error': {{...}}}}: {body[:200]!r}"
    error = data["error"]
    if set(error) != {"message", "type", "param", "code"}:
        return f"error keys {sorted(error)}: {body[:200]!r}"
    if not isinstance(error["message"], str) or not isinstance(error["type"], str):
        return f"message/type not strings: {body[:200]!r}"
    if not all(error[k] is None or isinstance(error[k], str) for k in ("param", "code")):
        return f"param/code neither string nor null: {body[:200]!r}"
    return None
