"""What the benchmarks share: a local distribution cut down to the measured services, and
percentiles of latency samples."""

from __future__ import annotations

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
