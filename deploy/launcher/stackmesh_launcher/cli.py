"""The `stackmesh` command: `up` (foreground supervisor or --detach), `status`, `down`,
`eval` (a benchmark on a running stack) and `keys` (its API keys)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError

from stackmesh_common.config import ConfigError, StackConfig, load_config
from stackmesh_launcher import evaluate, keys, state, traces
from stackmesh_launcher.components import label
from stackmesh_launcher.errors import StackStartError
from stackmesh_launcher.stack import LocalStack, RestartPolicy

DEFAULT_CONFIG = Path("deploy/distributions/local.yaml")
SUPERVISOR_LOG = "stackmesh.log"
DOWN_TIMEOUT_S = 30.0


def _default_state_dir() -> Path:
    # Mirrors local.yaml's `state_dir: ${STACKMESH_STATE_DIR:-.stackmesh}` without needing the file.
    return Path(os.environ.get("STACKMESH_STATE_DIR", ".stackmesh"))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _ready_line(url: str | None) -> str:
    if url is None:
        return "stackmesh: ready (without the gateway)"
    return f"stackmesh: ready at {url}/v1"


def _auth_line(config: StackConfig) -> str:
    if not config.auth.enabled:
        return (
            "stackmesh: auth is off: every caller is `anonymous` with access to everything"
            " (deploy/distributions/local-auth.yaml turns it on)"
        )
    return "stackmesh: auth is on: callers need `Authorization: Bearer <key>`; create keys with `stackmesh keys create --principal NAME`"


def _replicas(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in text.split(","):
        name, _, count = item.partition("=")
        if not name or not count.isdigit() or not 1 <= int(count) <= 16:
            raise argparse.ArgumentTypeError(f"{item!r}: expected SERVICE=N with N from 1 to 16, e.g. inference=2")
        counts[name.strip()] = int(count)
    return counts


class _MergeReplicas(argparse.Action):
    """--replicas may be given several times; later counts win."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        setattr(namespace, self.dest, {**getattr(namespace, self.dest), **values})


def up(args: argparse.Namespace) -> int:
    # First, so that invalid limits fail here, not in a detached supervisor.
    policy = RestartPolicy(max_crashes=args.max_crashes, crash_window_s=args.crash_window)
    if args.detach:
        return _up_detached(args)
    stack = LocalStack(
        args.config,
        args.state_dir,
        free_ports=False,
        gateway=not args.no_gateway,
        out=sys.stdout,
        restart_policy=policy,
        replicas=args.replicas,
    )
    print(f"stackmesh: starting {stack.config.name!r}, state in {stack.state_dir}", flush=True)
    # SIGTERM (stackmesh down) and a closed terminal stop the stack like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        stack.start()
        print(_ready_line(stack.gateway_url if not args.no_gateway else None) + "; Ctrl-C stops it", flush=True)
        print(_auth_line(stack.config), flush=True)
        print(f"stackmesh: {stack.watch()}", file=sys.stderr, flush=True)
        print("stackmesh: stopping the stack", flush=True)
        code = 1
    except KeyboardInterrupt:
        print("stackmesh: stopping", flush=True)
        code = 0
    finally:
        # A second Ctrl-C must not abort the shutdown half-way and leave processes behind.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
    return code


def _up_detached(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or load_config(args.config).state_dir).resolve()
    log_path = state_dir / "logs" / SUPERVISOR_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "stackmesh_launcher", "up", "--config", str(Path(args.config).resolve())]
    argv += ["--state-dir", str(state_dir), *(["--no-gateway"] if args.no_gateway else [])]
    argv += ["--max-crashes", str(args.max_crashes), "--crash-window", str(args.crash_window)]
    argv += [arg for name, count in args.replicas.items() for arg in ("--replicas", f"{name}={count}")]
    with open(log_path, "wb") as log:
        # Its own session: the supervisor outlives this command and the terminal it ran in.
        supervisor = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return _follow(supervisor, log_path, state_dir)


def _follow(supervisor: subprocess.Popen[bytes], log_path: Path, state_dir: Path) -> int:
    """Echoes the detached supervisor's log until its stack is ready (0) or it exits (1)."""
    with open(log_path, "rb") as output:

        def echo() -> None:
            sys.stdout.write(output.read().decode(errors="replace"))
            sys.stdout.flush()

        try:
            while True:
                echo()
                record = state.read(state_dir)
                if record is not None and record.supervisor.pid == supervisor.pid and record.phase == "ready":
                    print(_ready_line(record.gateway_url))
                    print(f"stackmesh: running in the background (pid {supervisor.pid}), log {log_path}")
                    print(f"stackmesh: stop it with: stackmesh down --state-dir {state_dir}")
                    return 0
                if supervisor.poll() is not None:
                    echo()
                    print(f"stackmesh: the stack did not start (log {log_path})", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        except KeyboardInterrupt:
            # The supervisor runs in its own session, so Ctrl-C reached only this command.
            supervisor.terminate()
            supervisor.wait()
            echo()
            print("stackmesh: start interrupted; everything started was stopped", file=sys.stderr)
            return 1


def status(args: argparse.Namespace) -> int:
    record = state.read(args.state_dir)
    if record is None:
        print(f"stackmesh: no stack is running from {args.state_dir}")
        return 1
    if not record.supervisor.alive():
        print(f"stackmesh: not running ({state.path(args.state_dir)} is stale: pid {record.supervisor.pid} exited)")
        return 1
    print(f"stack {record.name!r}: {record.phase}, supervisor pid {record.supervisor.pid}")
    healthy = record.phase == "ready"
    for component in record.components:
        alive = component.process.alive()
        ok = alive and component.probe.ok()
        healthy = healthy and ok
        restarts = f"  restarted {component.restarts}x" if component.restarts else ""
        metrics = f"  metrics {component.metrics}" if component.metrics else ""
        print(
            f"  {label(component.name)}{'running' if alive else 'stopped':<9}pid {component.process.pid:<9}"
            f"{component.address}  {component.probe.kind} {'ok' if ok else 'failing'}{restarts}{metrics}"
        )
    return 0 if healthy else 1


def down(args: argparse.Namespace) -> int:
    record = state.read(args.state_dir)
    if record is None or not record.supervisor.alive():
        state.remove(args.state_dir)
        print(f"stackmesh: no stack is running from {args.state_dir}")
        return 0
    began = time.monotonic()
    os.kill(record.supervisor.pid, signal.SIGTERM)
    while record.supervisor.alive():
        if time.monotonic() - began > DOWN_TIMEOUT_S:
            log_path = args.state_dir / "logs" / SUPERVISOR_LOG
            print(
                f"stackmesh: supervisor pid {record.supervisor.pid} still runs after {DOWN_TIMEOUT_S:.0f} s; see {log_path}"
            )
            return 1
        time.sleep(0.2)
    print(
        f"stackmesh: stopped {record.name!r} ({len(record.components)} components) in {time.monotonic() - began:.1f} s"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stackmesh", description="Run a stackmesh distribution on this machine.")
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("up", help="start every component; Ctrl-C stops them all")
    start.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help=f"distribution file (default {DEFAULT_CONFIG})"
    )
    start.add_argument(
        "--state-dir", type=Path, help="logs, data and resolved config (default: the config's state_dir)"
    )
    start.add_argument("--detach", action="store_true", help="run the supervisor in the background")
    start.add_argument(
        "--replicas",
        type=_replicas,
        action=_MergeReplicas,
        default={},
        metavar="SERVICE=N[,SERVICE=N]",
        help="run N processes of a service behind the gateway (e.g. inference=2,vector_io=2)",
    )
    start.add_argument("--no-gateway", action="store_true", help="start everything but the gateway")
    defaults = RestartPolicy()
    start.add_argument(
        "--max-crashes",
        type=int,
        default=defaults.max_crashes,
        metavar="N",
        help="a crashed component restarts with backoff; this many crashes of one within --crash-window "
        f"stop the stack (default {defaults.max_crashes}; 1 stops it at the first crash)",
    )
    start.add_argument(
        "--crash-window",
        type=float,
        default=defaults.crash_window_s,
        metavar="SECONDS",
        help=f"see --max-crashes (default {defaults.crash_window_s:g})",
    )
    start.set_defaults(run=up)

    for name, run, text in (
        ("status", status, "show each component's process and health"),
        ("down", down, "stop a running stack"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "--state-dir", type=Path, default=_default_state_dir(), help="default: $STACKMESH_STATE_DIR or .stackmesh"
        )
        command.set_defaults(run=run)
    evaluate.add_parser(commands)
    keys.add_parser(commands, _default_state_dir())
    traces.add_parser(commands, _default_state_dir())
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    # ValidationError: a --max-crashes or --crash-window that is not positive.
    except (ConfigError, StackStartError, ValidationError, evaluate.EvalCommandError, keys.KeysCommandError) as exc:
        print(f"stackmesh: {exc}", file=sys.stderr)
        return 1
