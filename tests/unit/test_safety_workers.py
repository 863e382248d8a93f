"""Detector worker processes: results, failures without the checked text, deadlines, shutdown."""

from __future__ import annotations

import asyncio
import os
import time
import traceback

import psutil
import pytest

from stackmesh_safety.workers import DetectorFailed, DetectorTimeout, DetectorWorkers

DEADLINE_S = 1.0


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def wait_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not gone(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return gone(pid)


@pytest.fixture
async def workers():
    # os.getpid: a warm-up with nothing to load.
    workers = DetectorWorkers(1, DEADLINE_S, os.getpid)
    workers.start()
    yield workers
    await workers.close()


async def test_a_call_runs_in_another_process(workers):
    assert await workers.run(os.getpid) != os.getpid()
    assert await workers.run(sum, [1, 2]) == 3


async def test_a_failure_crosses_back_without_the_checked_text(workers):
    secret = "-".join(["hunter2", "secret"])
    # int() quotes its input in its error, as a detector's error could quote the text.
    with pytest.raises(DetectorFailed) as caught:
        await workers.run(int, secret)
    reported = "".join(traceback.format_exception(caught.value))
    assert "ValueError" in reported and secret not in reported
    assert await workers.run(sum, [1]) == 1


async def test_a_call_past_the_deadline_kills_its_worker_and_a_fresh_one_takes_over(workers):
    first = await workers.run(os.getpid)
    started = time.monotonic()
    with pytest.raises(DetectorTimeout) as caught:
        await workers.run(time.sleep, 60)
    assert caught.value.timeout_s == DEADLINE_S and time.monotonic() - started < DEADLINE_S + 2
    assert await wait_gone(first)
    assert await workers.run(os.getpid) not in (first, os.getpid())


async def test_a_caller_that_leaves_keeps_the_worker_busy_until_its_call_ends(workers):
    """The next call waits for the worker instead of queueing behind the abandoned work unseen."""
    abandoned = asyncio.create_task(workers.run(time.sleep, 0.6))
    await asyncio.sleep(0.3)
    abandoned.cancel()
    started = time.monotonic()
    assert await workers.run(sum, [2]) == 2
    assert time.monotonic() - started > 0.1


async def test_close_ends_every_process_busy_or_idle():
    workers = DetectorWorkers(2, 60.0, os.getpid)
    workers.start()
    pids = set(await asyncio.gather(workers.run(pid_after, 0.5), workers.run(pid_after, 0.5)))
    assert len(pids) == 2
    busy = asyncio.create_task(workers.run(time.sleep, 60))
    await asyncio.sleep(0.1)
    await workers.close()
    assert all([await wait_gone(pid) for pid in pids]), pids
    with pytest.raises(asyncio.CancelledError):
        await busy
