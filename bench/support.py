"""What the benchmarks share: a local distribution cut down to the measured services, timing
a call, and percentiles of latency samples."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LOCAL = REPO / "deploy" / "distributions" / "local.yaml"


def local_distribution(directory: Path, *services: str) -> Path:
    """local.yaml with only the named services, written into `directory`."""
    data = yaml.safe_load(LOCAL.read_text())
    data["services"] = {name: data["services"][name] for name in services}
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def elapsed_ms(call: Callable[[], object]) -> float:
    """Milliseconds that `call()` takes."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
