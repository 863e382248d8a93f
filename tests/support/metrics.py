"""Reading a process's Prometheus metrics in tests."""

from __future__ import annotations

import re

import httpx


def scrape(url: str) -> str:
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels are exactly `labels`; 0 when absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric == name and dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text)) == labels:
            return float(value)
    return 0.0
