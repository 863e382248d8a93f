"""Detector patterns take time linear in the text, on the inputs that made them quadratic."""

from __future__ import annotations

import time
from typing import Callable

import pytest

from stackmesh_safety.detectors import injection_rules, pii_patterns
from stackmesh_safety.detectors.python_code import snippets
from stackmesh_safety.messages import Message

# Each unit, repeated, restarted a backtracking scan at every position up to the end of the text.
HOSTILE = [
    ("pii", "a."),  # email local part and URL scheme
    ("pii", "a@"),
    ("pii", "sk-"),  # provider tokens whose prefix is made of their own characters
    ("pii", "sk-ant-"),
    ("pii", "glpat-"),
    ("pii", "xoxb-"),
    ("pii", "x://a:"),  # URL password
    ("pii", "password="),
    ("pii", "4111 1111 1111 1111 "),  # card candidates (and phone-number candidates)
    ("pii", "a@b.co "),  # thousands of findings, each compared with every other one
    ("code", "```"),  # a code fence with no newline after it
    ("code", "```a"),
    ("rules", "![a](http://"),  # the exfiltration rule
    ("rules", "ignore "),
]
DETECTORS: dict[str, Callable[[str], object]] = {
    "pii": pii_patterns.find,
    "code": lambda text: snippets([Message("assistant", text)]),
    "rules": injection_rules.matches,
}


def fastest(detector: Callable[[str], object], text: str, runs: int = 5) -> float:
    """The least of a few timings: the machine is shared, and noise only adds time."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        detector(text)
        timings.append(time.perf_counter() - started)
    return min(timings)


@pytest.mark.parametrize("detector, unit", HOSTILE, ids=[f"{d}:{u}" for d, u in HOSTILE])
def test_four_times_the_text_takes_about_four_times_as_long(detector, unit):
    small, large = (unit * (size // len(unit)) for size in (10_240, 40_960))
    fastest(DETECTORS[detector], small, runs=1)  # warm up (phone metadata, first-use caches)
    small_s, large_s = fastest(DETECTORS[detector], small), fastest(DETECTORS[detector], large)
    # Quadratic is 16x (0.8-4.7 s on 40 KB before); the floor keeps a few milliseconds of
    # scheduling noise out of the ratio of the fastest ones.
    assert large_s / max(small_s, 0.005) < 8, (small_s, large_s)
