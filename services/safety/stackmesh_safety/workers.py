"""Worker processes for CPU-bound detectors (pattern matching, bandit), each call with a deadline.

A detector runs in a process of its own, so however long it takes, the service's event loop
(and its GIL) keeps answering other calls. A worker still busy at the deadline is killed and
replaced: a pathological input costs one worker one deadline's CPU, never more. A timed-out
check is an error (`DetectorTimeout`), not a verdict: flagging the text would block it
unjudged, passing it would let it through unchecked; callers decide (shields answer 504).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger("stackmesh.safety.workers")

T = TypeVar("T")
# Detector work yields the CPU to the services beside it (the event loop of this one included).
WORKER_NICENESS = 5


class DetectorTimeout(Exception):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the detector ran past its {timeout_s:g} s deadline")
        self.timeout_s = timeout_s


class DetectorWorkerLost(Exception):
    """The worker process died mid-call (out of memory, a crash in native code)."""


class DetectorFailed(Exception):
    """A detector raised; this carries the exception's type and frames, never its message."""


def describe(exc: BaseException) -> str:
    """An exception as its type and frames only: its message could quote the checked text."""
    if isinstance(exc, DetectorFailed):
        return str(exc)
    return f"{type(exc).__name__}\n{''.join(traceback.format_tb(exc.__traceback__))}"


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """Runs in the worker; a failure crosses back without its message."""
    try:
        return fn(*args)
    except Exception as exc:
        raise DetectorFailed(describe(exc)) from None


def _initialize(warm_up: Callable[[], None]) -> None:
    os.nice(WORKER_NICENESS)
    warm_up()
    # From here workers report through results and exceptions only: library logs (bandit
    # quotes the lines it fails on) would copy checked text to the service's log.
    logging.disable(logging.CRITICAL)


class _Worker:
    """One process in a pool of its own, so it can be killed without touching the others."""

    def __init__(self, warm_up: Callable[[], None]) -> None:
        # Spawned, not forked: a fork of a process running gRPC's threads is not safe.
        context = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(1, mp_context=context, initializer=_initialize, initargs=(warm_up,))
        self.pid: int | None = None
        self.alive = True

    def kill(self) -> None:
        self.alive = False
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class DetectorWorkers:
    """A fixed number of worker processes; `run` waits for a free one."""

    def __init__(self, processes: int, timeout_s: float, warm_up: Callable[[], None]) -> None:
        self.processes = processes
        self.timeout_s = timeout_s
        self._warm_up = warm_up
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def start(self) -> None:
        """Starts the processes in the background (a second or so each); calls wait for them."""
        for _ in range(self.processes):
            self._track(self._spawn())

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker process; `fn` and its arguments must pickle."""
        worker = await self._idle.get()
        # The call keeps its worker until it ends, even if our caller goes away first: the
        # worker is then idle again, or killed at the deadline, before anyone reuses it.
        return await asyncio.shield(self._track(self._run_on(worker, fn, args)))

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for worker in self._workers:
            worker.kill()

    async def _spawn(self) -> None:
        worker = _Worker(self._warm_up)
        self._workers.add(worker)
        try:
            worker.pid = await asyncio.wrap_future(worker.executor.submit(os.getpid))
        except Exception:
            # Handed out all the same: its calls fail fast ("worker lost") instead of waiting forever.
            log.exception("a detector worker process failed to start")
        self._idle.put_nowait(worker)

    async def _run_on(self, worker: _Worker, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            job = worker.executor.submit(_call, fn, args)
            return await asyncio.wait_for(asyncio.wrap_future(job), self.timeout_s)
        except TimeoutError:
            worker.alive = False
            raise DetectorTimeout(self.timeout_s) from None
        except BrokenProcessPool:
            worker.alive = False
            raise DetectorWorkerLost("the detector's worker process died") from None
        finally:
            self._release(worker)

    def _release(self, worker: _Worker) -> None:
        """Back to the idle queue, or, past its deadline or dead, killed and replaced."""
        if self._closed:
            return
        if worker.alive:
            self._idle.put_nowait(worker)
            return
        worker.kill()
        self._workers.discard(worker)
        self._track(self._spawn())

    def _track(self, work: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        # A call whose caller left has nobody to read its outcome; reading it here keeps
        # asyncio from logging it (and the text it might quote) as never retrieved.
        if not task.cancelled():
            task.exception()
