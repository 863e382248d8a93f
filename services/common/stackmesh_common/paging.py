"""OpenAI-style cursor pagination: limits, order, and a page of records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from stackmesh_common.errors import InvalidArgument

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def page_limit(limit: int | None, default: int = 20, maximum: int = 100) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise InvalidArgument(f"`limit` must be between 1 and {maximum}, got {limit}", param="limit")
    return limit


def sort_order(order: str, default: str = "desc") -> str:
    order = order or default
    if order not in ("asc", "desc"):
        raise InvalidArgument(f"`order` must be `asc` or `desc`, got {order!r}", param="order")
    return order
