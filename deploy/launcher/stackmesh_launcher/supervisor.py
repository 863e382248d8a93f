"""Restarts components that exit on their own, with exponential backoff, until one crash-loops."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt

from stackmesh_launcher.components import Component, label


class RestartPolicy(BaseModel):
    """How the supervisor restarts a component that exits without being asked to.

    The n-th crash of a component within `crash_window_s` is followed by a restart after
    `first_backoff_s * 2**(n-1)` seconds, at most `max_backoff_s` (0.5, 1, 2, 4 s by default).
    Its `max_crashes`-th crash within the window is a crash loop: the supervisor gives up and
    the stack's owner stops the stack. `max_crashes=1` stops it at the first crash.
    """

    model_config = ConfigDict(frozen=True)

    first_backoff_s: PositiveFloat = 0.5
    max_backoff_s: PositiveFloat = 30.0
    max_crashes: PositiveInt = 5
    crash_window_s: PositiveFloat = 60.0

    def backoff_s(self, recent_crashes: int) -> float:
        return min(self.first_backoff_s * 2.0 ** (recent_crashes - 1), self.max_backoff_s)


@dataclass
class _Watched:
    """The supervisor's view of one component."""

    component: Component
    # When it crashed, within the policy's window.
    crashes: deque[float] = field(default_factory=deque)
    # Crashed, waiting out its backoff: restart at this monotonic time.
    restart_at: float | None = None
    # Restarted at this monotonic time, its probe not passed yet.
    restarted_at: float | None = None
    # Stopped on purpose: its exit is no crash and it stays down.
    left_down: bool = False

    @property
    def up(self) -> bool:
        return not self.left_down and self.restart_at is None and self.restarted_at is None and self.component.running


class Supervisor:
    """A thread that restarts crashed components in place (same command, config and ports),
    re-running their readiness probe before it reports them back.

    The kernel signals a child when the thread that started it exits (PR_SET_PDEATHSIG), and
    this thread starts the restarted ones: after `halt()` it idles until `close()`, which its
    owner calls once those children are stopped.
    """

    def __init__(
        self,
        components: list[Component],
        env: dict[str, str],
        policy: RestartPolicy,
        *,
        on_restart: Callable[[], None],
        say: Callable[[str], None],
        poll_s: float = 0.2,
    ) -> None:
        self._watched = {component.name: _Watched(component) for component in components}
        self._env = env
        self._policy = policy
        self._on_restart = on_restart
        self._say = say
        self._poll_s = poll_s
        # Held while checking: stop_component and halt() must not interleave with a restart.
        self._lock = threading.Lock()
        self._halted = False
        self._closing = threading.Event()
        self._gave_up = threading.Event()
        self._failure: str | None = None
        self._thread = threading.Thread(target=self._run, name="stackmesh-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def leave_down(self, name: str) -> None:
        """Marks a component as stopped on purpose; call it before signalling the process."""
        with self._lock:
            self._watched[name].left_down = True

    def is_up(self, name: str) -> bool:
        """Whether the component runs and has passed its probe since its last (re)start."""
        with self._lock:
            return self._watched[name].up

    def failure(self, timeout_s: float = 0.0) -> str | None:
        """Why the supervisor gave up, waiting up to `timeout_s` for it to; None while it supervises."""
        self._gave_up.wait(timeout_s)
        return self._failure

    def halt(self) -> None:
        """Ends restarts (the stack is stopping); returns once a check in progress is done."""
        with self._lock:
            self._halted = True

    def close(self) -> None:
        self.halt()
        self._closing.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._closing.wait(self._poll_s):
            with self._lock:
                if self._halted:
                    continue
                try:
                    for watched in self._watched.values():
                        self._check(watched)
                except Exception as exc:
                    # Unsupervised, the next crash would go unnoticed: stop the stack instead.
                    self._give_up(f"restarting failed: {exc}")

    def _check(self, watched: _Watched) -> None:
        component = watched.component
        assert component.process is not None, "supervised components have started"
        if watched.left_down:
            return
        now = time.monotonic()
        if watched.restart_at is not None:
            if now >= watched.restart_at:
                watched.restart_at, watched.restarted_at = None, now
                component.restart(self._env)
                self._on_restart()
            return
        code = component.process.poll()
        if code is not None:
            self._crashed(watched, now, f"crashed (exit code {code})")
        elif watched.restarted_at is not None:
            if component.probe.ok():
                component.after_ready()
                self._say(f"  {label(component.name)}restarted, ready in {time.monotonic() - watched.restarted_at:.1f} s\n")
                watched.restarted_at = None
            elif now - watched.restarted_at > component.ready_timeout_s:
                self._crashed(watched, now, f"was not ready {component.ready_timeout_s:.0f} s after its restart")

    def _crashed(self, watched: _Watched, now: float, event: str) -> None:
        component = watched.component
        # Reaps the process (stops it, if it hangs unready) and kills what it left in its group.
        component.stop()
        watched.restarted_at = None
        watched.crashes.append(now)
        while now - watched.crashes[0] > self._policy.crash_window_s:
            watched.crashes.popleft()
        crashes = len(watched.crashes)
        if crashes >= self._policy.max_crashes:
            self._say(f"  {label(component.name)}{event}\n")
            window = f"{self._policy.crash_window_s:g} s"
            self._give_up(component.describe(f"is crash-looping ({crashes} crashes within {window}, the last: {event})"))
            return
        delay = self._policy.backoff_s(crashes)
        watched.restart_at = now + delay
        self._say(f"  {label(component.name)}{event}, restarting in {delay:g} s (restart {component.restarts + 1})\n")

    def _give_up(self, reason: str) -> None:
        self._halted = True
        self._failure = reason
        self._gave_up.set()
