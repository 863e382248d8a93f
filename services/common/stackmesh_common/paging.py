"""OpenAI-style cursor pagination: each list's page size, order, and a page of records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from stackmesh_common.errors import InvalidArgument

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


@dataclass(frozen=True)
class PageSize:
    """A list's page size when `limit` is absent, and the most one page returns."""

    default: int
    maximum: int


# Every paged list's sizes, in one place; README's "Lists" table mirrors them.
# Upstream clients ask for more than OpenAI's documented 100 (llama-stack-client sends 1000
# for chat completions), so a larger `limit` is clamped, never refused: `has_more` and the
# cursors keep paging correct. The maxima bound what one response holds.
FILES = PageSize(default=20, maximum=10_000)  # OpenAI's maximum; a small default, as every other list
VECTOR_STORE_FILES = PageSize(default=20, maximum=10_000)  # also a batch's files; rows are small
CHAT_COMPLETIONS = PageSize(default=20, maximum=1_000)  # each row carries its whole conversation
CHAT_COMPLETION_MESSAGES = PageSize(default=20, maximum=1_000)
VECTOR_STORES = PageSize(default=20, maximum=100)  # each row sums its files' usage
BATCHES = PageSize(default=20, maximum=100)  # each row counts its lines
CONVERSATION_ITEMS = PageSize(default=20, maximum=100)  # OpenAI's own; an item may hold a long message
JOBS = PageSize(default=20, maximum=1_000)
RESPONSES = PageSize(default=50, maximum=100)  # each row carries its output and input items
RESPONSE_INPUT_ITEMS = PageSize(default=20, maximum=100)  # OpenAI's own


def page_limit(limit: int | None, size: PageSize) -> int:
    if limit is None:
        return size.default
    if limit < 1:
        raise InvalidArgument(f"`limit` must be at least 1, got {limit}; a page holds at most {size.maximum} items", param="limit")
    return min(limit, size.maximum)


def sort_order(order: str, default: str = "desc") -> str:
    order = order or default
    if order not in ("asc", "desc"):
        raise InvalidArgument(f"`order` must be `asc` or `desc`, got {order!r}", param="order")
    return order
