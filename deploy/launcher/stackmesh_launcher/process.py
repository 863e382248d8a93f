"""Child processes: own session, death with the launcher, stop of the whole group, log tails."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path

import psutil

# Runs between fork and the real program: drop to `user` if asked, ask the kernel to signal the
# child when its parent (the launcher) dies, then exec. It is a separate interpreter rather than
# Popen's preexec_fn because preexec_fn is unsafe once gRPC threads exist in the launcher, and the
# user switch happens first because changing credentials clears the parent-death signal.
_EXEC_WITH_DEATH_SIGNAL = """
import ctypes, os, sys
parent, sig, user, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
if user != "-":
    uid, gid = (int(part) for part in user.split(":"))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
if libc.prctl(PR_SET_PDEATHSIG, sig) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != parent:
    sys.exit("the launcher exited before this component started")
os.execv(argv[0], argv)
"""

LOG_TAIL_LINES = 30
# Starts the line a restart appends to a component's log, before the new run's output.
RESTART_MARKER = "--- stackmesh: restart"


def spawn(
    argv: list[str],
    *,
    log_path: Path,
    env: dict[str, str],
    death_signal: int,
    cwd: Path | None = None,
    user: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    """Starts `argv` in its own session (so Ctrl-C reaches only the launcher), output appended to `log_path`."""
    run_as = f"{user.pw_uid}:{user.pw_gid}" if user else "-"
    wrapper = [sys.executable, "-I", "-S", "-c", _EXEC_WITH_DEATH_SIGNAL, str(os.getpid()), str(death_signal), run_as]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*wrapper, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(process: subprocess.Popen[bytes], stop_signal: int, timeout_s: float) -> int:
    """Signals the group leader, escalates to SIGKILL after `timeout_s`, then kills what it left behind."""
    if process.poll() is None:
        os.kill(process.pid, stop_signal)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
    # The session id is the leader's pid: helpers it forked may outlive it.
    _kill_group(process.pid)
    return process.returncode


def started_at(pid: int) -> float | None:
    """The creation time of `pid`, which tells a live process from a reused pid."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_alive(pid: int, created: float) -> bool:
    """Whether the process recorded as (`pid`, `created`) still runs (a zombie does not)."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log, or a note that it is empty."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def current_run(path: Path) -> str:
    """The log's lines since the last restart marker: what the running process wrote."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    marker = text.rfind(RESTART_MARKER)
    return text if marker < 0 else text[marker:].partition("\n")[2]
