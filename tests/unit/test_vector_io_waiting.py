"""Waiting for ingestion before answering an attach: the budget, the polls, the early stops."""

from __future__ import annotations

import asyncio
import time

import pytest

from stackmesh_vector_io.waiting import DEADLINE_MARGIN_S, poll_until, wait_budget


class Row:
    """A status that reads `in_progress` until it is read `reads_to_finish` times."""

    def __init__(self, reads_to_finish: int) -> None:
        self.reads = 0
        self.reads_to_finish = reads_to_finish

    async def read(self) -> str:
        self.reads += 1
        return "completed" if self.reads >= self.reads_to_finish else "in_progress"


def settled(status: str) -> bool:
    return status != "in_progress"


@pytest.mark.parametrize(
    "configured, remaining, expected",
    [(30.0, None, 30.0), (30.0, 5.0, 5.0 - DEADLINE_MARGIN_S), (0.0, 60.0, 0.0), (30.0, 0.2, 0.0), (30.0, -1.0, 0.0)],
)
def test_the_budget_is_the_setting_cut_before_the_callers_deadline(configured, remaining, expected):
    assert wait_budget(configured, remaining) == pytest.approx(expected)


async def test_a_zero_budget_answers_with_the_first_value_without_reading():
    row = Row(reads_to_finish=1)
    assert await poll_until("in_progress", row.read, settled, 0.0, asyncio.Event()) == "in_progress"
    assert row.reads == 0


async def test_polls_until_settled():
    row = Row(reads_to_finish=3)
    started = time.monotonic()
    assert await poll_until("in_progress", row.read, settled, 5.0, asyncio.Event()) == "completed"
    assert row.reads == 3 and time.monotonic() - started < 1.0


async def test_gives_the_latest_value_when_the_budget_runs_out():
    row = Row(reads_to_finish=1_000)
    started = time.monotonic()
    assert await poll_until("in_progress", row.read, settled, 0.3, asyncio.Event()) == "in_progress"
    assert 0.3 <= time.monotonic() - started < 0.6
    assert row.reads >= 2


async def test_draining_ends_the_wait_at_once():
    row, stop = Row(reads_to_finish=1_000), asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stop.set)
    started = time.monotonic()
    assert await poll_until("in_progress", row.read, settled, 30.0, stop) == "in_progress"
    assert time.monotonic() - started < 0.5
