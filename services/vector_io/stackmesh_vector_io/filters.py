"""File attributes and the search filters over them, checked into typed trees providers compile.

A comparison `{type: eq|ne|gt|gte|lt|lte|in|nin, key, value}` holds for a chunk whose file
attribute `key` compares so with `value`: eq/ne/in/nin compare values of the same JSON type,
gt/gte/lt/lte compare numbers with numbers and strings with strings. `ne` and `nin` also hold
when the attribute is absent. A compound `{type: and|or, filters: [...]}` combines them.

OpenAI documents no size limits for filters; ours keep every compiled statement far inside the
databases' own (Postgres' 65,535 parameters, SQLite's expression depth of 1,000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from stackmesh_common.errors import InvalidArgument
from stackmesh_vector_io.characters import check_name, check_value

Scalar = Union[str, float, bool]
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUNDS = ("and", "or")
ORDERED = ("gt", "gte", "lt", "lte")
MAX_ATTRIBUTES = 16
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 512
MAX_DEPTH = 8
# Comparisons in one filter, however nested.
MAX_COMPARISONS = 1000
# Values of one `in` or `nin` list (each provider binds the list as one parameter).
MAX_LIST_VALUES = 10_000


@dataclass(frozen=True)
class Comparison:
    op: str
    key: str
    # A list for `in` and `nin`.
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class Compound:
    op: str
    filters: tuple[Filter, ...]


Filter = Union[Comparison, Compound]


def _key(key: Any, param: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or '"' in key or "\\" in key:
        raise InvalidArgument(
            f"`{param}` must be a non-empty string of at most {MAX_KEY_CHARS} characters without quotes or backslashes",
            param=param,
        )
    return check_name(key, param)


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float))


def _scalar(value: Any, param: str) -> Scalar:
    if isinstance(value, str):
        return check_value(value, param)
    # JSON numbers arrive as floats from google.protobuf.Value; keep whole numbers whole.
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def check_attributes(attributes: Any, param: str = "attributes") -> dict[str, Scalar]:
    """File attributes: at most 16 keys, values strings (≤ 512 characters), numbers or booleans."""
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise InvalidArgument(f"`{param}` must be an object", param=param)
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidArgument(f"`{param}` may have at most {MAX_ATTRIBUTES} keys, got {len(attributes)}", param=param)
    checked: dict[str, Scalar] = {}
    for key, value in attributes.items():
        # A key with control characters is named by its parent: the param is echoed back.
        check_name(key, param, f"keys of `{param}`")
        _key(key, f"{param}.{key}")
        if not is_scalar(value) or isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise InvalidArgument(
                f"`{param}.{key}` must be a string of at most {MAX_VALUE_CHARS} characters, a number or a boolean",
                param=f"{param}.{key}",
            )
        checked[key] = check_value(value, f"{param}.{key}") if isinstance(value, str) else value
    return checked


def parse_filter(raw: Any, param: str = "filters") -> Filter:
    """Checks a filter object and returns its typed tree; any bad shape is a 400 naming the spot."""
    return _FilterParser(param).parse(raw, param, 0)


class _FilterParser:
    """One filter's parse, counting its comparisons against MAX_COMPARISONS."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.comparisons = 0

    def parse(self, raw: Any, param: str, depth: int) -> Filter:
        if depth > MAX_DEPTH:
            raise InvalidArgument(f"`{param}` nests more than {MAX_DEPTH} levels", param=param)
        if not isinstance(raw, dict):
            raise InvalidArgument(f"`{param}` must be an object with a `type`", param=param)
        kind = raw.get("type")
        if kind in COMPOUNDS:
            filters = raw.get("filters")
            if not isinstance(filters, list) or not filters or set(raw) - {"type", "filters"}:
                raise InvalidArgument(f"`{param}` of type {kind!r} takes a non-empty `filters` list and nothing else", param=param)
            return Compound(kind, tuple(self.parse(f, f"{param}.filters[{i}]", depth + 1) for i, f in enumerate(filters)))
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            # Named at the root: the whole filter is too large, not this comparison.
            raise InvalidArgument(f"`{self.root}` may hold at most {MAX_COMPARISONS} comparisons", param=self.root)
        return self._comparison(raw, kind, param)

    @staticmethod
    def _comparison(raw: dict[str, Any], kind: Any, param: str) -> Comparison:
        if kind not in COMPARISONS:
            raise InvalidArgument(
                f"`{param}.type` must be one of {', '.join(COMPARISONS + COMPOUNDS)}, got {kind!r}", param=f"{param}.type"
            )
        if set(raw) - {"type", "key", "value"} or "value" not in raw:
            raise InvalidArgument(f"`{param}` of type {kind!r} takes `key` and `value` and nothing else", param=param)
        key = _key(raw.get("key"), f"{param}.key")
        value = raw["value"]
        if kind in ("in", "nin"):
            if not isinstance(value, list) or not value or not all(is_scalar(v) for v in value):
                raise InvalidArgument(f"`{param}.value` of {kind!r} must be a non-empty list of strings, numbers or booleans", param=f"{param}.value")
            if len(value) > MAX_LIST_VALUES:
                raise InvalidArgument(f"`{param}.value` may hold at most {MAX_LIST_VALUES} values, got {len(value)}", param=f"{param}.value")
            return Comparison(kind, key, tuple(_scalar(v, f"{param}.value[{i}]") for i, v in enumerate(value)))
        if not is_scalar(value):
            raise InvalidArgument(f"`{param}.value` must be a string, a number or a boolean", param=f"{param}.value")
        if kind in ORDERED and isinstance(value, bool):
            raise InvalidArgument(f"`{param}.value` of {kind!r} must be a number or a string", param=f"{param}.value")
        return Comparison(kind, key, _scalar(value, f"{param}.value"))
