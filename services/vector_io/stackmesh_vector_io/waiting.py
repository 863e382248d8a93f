"""Polling a record until it settles, within a time budget: attaching files answers with the
outcome of an ingestion that ends in time instead of always `in_progress`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")

# Short first polls catch a small file's ingestion (well under a second) soon after it ends;
# growing to 250 ms keeps a long wait to a few queries a second.
FIRST_POLL_S, MAX_POLL_S, POLL_GROWTH = 0.05, 0.25, 1.5
# Kept back from a caller's deadline to send the answer: one arriving after the deadline is
# lost, and the attach it reports would look failed.
DEADLINE_MARGIN_S = 0.5


def wait_budget(configured_s: float, time_remaining: float | None) -> float:
    """Seconds to wait: the configured bound, cut to end before the caller's deadline."""
    if time_remaining is not None:
        configured_s = min(configured_s, time_remaining - DEADLINE_MARGIN_S)
    return max(configured_s, 0.0)


async def poll_until(
    first: T, read: Callable[[], Awaitable[T]], done: Callable[[T], bool], budget_s: float, stop: asyncio.Event
) -> T:
    """The first value `done` accepts, starting with `first` and re-`read` as polls go; the
    latest value once `budget_s` runs out or `stop` is set."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    interval = FIRST_POLL_S
    value = first
    while not done(value) and not stop.is_set():
        left = deadline - loop.time()
        if left <= 0:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), min(interval, left))
        interval = min(interval * POLL_GROWTH, MAX_POLL_S)
        value = await read()
    return value
