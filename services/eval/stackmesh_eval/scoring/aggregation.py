"""Aggregations over score rows, keyed by aggregation name as Llama Stack's results are.

Rows with an `"error"` key were not scored and are left out of every aggregation; when any
row errored the result also carries `"num_errors"`. Booleans count as 1 and 0. Over no
scored rows, counts are 0, means and the median are None, and categorical_count is {}.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, Callable

from stackmesh_common.errors import InvalidArgument

AGGREGATIONS = ("accuracy", "average", "weighted_average", "median", "categorical_count")

Number = int | float


def aggregate(score_rows: list[dict], names: list[str]) -> dict[str, Any]:
    """Merges the results of the named aggregations over the rows that were scored."""
    scored = [row for row in score_rows if "error" not in row]
    result: dict[str, Any] = {}
    for name in dict.fromkeys(names):
        fn = _BY_NAME.get(name)
        if fn is None:
            param = f"params.aggregation_functions[{names.index(name)}]"
            known = ", ".join(AGGREGATIONS)
            raise InvalidArgument(f"{param}: unknown aggregation `{name}`; known: {known}", param=param)
        result.update(fn(scored, name))
    num_errors = len(score_rows) - len(scored)
    if num_errors:
        result["num_errors"] = num_errors
    return result


def _accuracy(rows: list[dict], name: str) -> dict[str, Any]:
    scores = _numbers(rows, name)
    total = sum(scores)
    return {"accuracy": total / len(scores) if scores else None, "num_correct": total, "num_total": len(scores)}


def _average(rows: list[dict], name: str) -> dict[str, Any]:
    scores = _numbers(rows, name)
    return {"average": sum(scores) / len(scores) if scores else None}


def _weighted_average(rows: list[dict], name: str) -> dict[str, Any]:
    scores = _numbers(rows, name)
    weights = [_unbool(row.get("weight", 1.0)) for row in rows]
    total_weight = sum(weights)
    weighted = sum(s * w for s, w in zip(scores, weights))
    return {"weighted_average": weighted / total_weight if total_weight else None}


def _median(rows: list[dict], name: str) -> dict[str, Any]:
    scores = _numbers(rows, name)
    return {"median": statistics.median(scores) if scores else None}


def _categorical_count(rows: list[dict], name: str) -> dict[str, Any]:
    counts = Counter(str(_unbool(row["score"])) for row in rows)
    return {"categorical_count": dict(sorted(counts.items()))}


def _numbers(rows: list[dict], name: str) -> list[Number]:
    scores = []
    for row in rows:
        score = row["score"]
        if not isinstance(score, (int, float)):
            raise InvalidArgument(
                f"aggregation `{name}` needs numeric scores, but a row scored {score!r}; use categorical_count",
                param="params.aggregation_functions",
            )
        scores.append(_unbool(score))
    return scores


def _unbool(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


_BY_NAME: dict[str, Callable[[list[dict], str], dict[str, Any]]] = {
    "accuracy": _accuracy,
    "average": _average,
    "weighted_average": _weighted_average,
    "median": _median,
    "categorical_count": _categorical_count,
}
