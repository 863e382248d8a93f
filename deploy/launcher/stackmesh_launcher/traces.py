"""`stackmesh traces`: the last traces of a local stack, read back from the span files its
processes write (telemetry.traces.directory), as trees of spans with their timings."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stackmesh_common.config import ConfigError, load_config
from stackmesh_launcher.stack import CONFIG_FILE_NAME

Span = dict[str, Any]


def read_spans(directory: Path) -> list[Span]:
    """Every span in the folder's files; a line cut short by a process dying is skipped."""
    spans = []
    for path in sorted(directory.glob("*.jsonl*")):
        with path.open() as lines:
            for line in lines:
                try:
                    spans.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return spans


def group_traces(spans: list[Span]) -> list[list[Span]]:
    """Spans by trace, oldest trace first."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span["trace_id"]].append(span)
    return sorted(traces.values(), key=lambda trace: min(s["start_ns"] for s in trace))


def _ms(span: Span) -> float:
    return (span["end_ns"] - span["start_ns"]) / 1e6


def render_trace(trace: list[Span]) -> list[str]:
    """A header line, then each span under its parent (spans whose parent is not in the files,
    such as the gateway's without a collector, are roots)."""
    ids = {s["span_id"] for s in trace}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in trace:
        children[span["parent_id"] if span["parent_id"] in ids else None].append(span)
    start = min(s["start_ns"] for s in trace)
    total = (max(s["end_ns"] for s in trace) - start) / 1e6
    when = datetime.fromtimestamp(start / 1e9, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    lines = [f"trace {trace[0]['trace_id']}  {when} UTC  {total:.1f} ms  {len(trace)} spans"]

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["start_ns"]):
            offset = (span["start_ns"] - start) / 1e6
            failed = "  ERROR" if span["status"] == "ERROR" else ""
            lines.append(f"{'  ' * (depth + 1)}{span['service']}  {span['name']}  +{offset:.1f} ms  {_ms(span):.1f} ms{failed}")
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines


def run(args: argparse.Namespace) -> int:
    config_path = args.state_dir / CONFIG_FILE_NAME
    if not config_path.is_file():
        raise ConfigError(f"no stack has run with state dir {args.state_dir} (start one with `stackmesh up`)")
    config = load_config(config_path)
    traces = config.telemetry.traces
    if not traces.enabled or not traces.directory:
        raise ConfigError("this stack writes no span files: set telemetry.traces.directory (and enabled) in its distribution")
    found = group_traces(read_spans(config.state_path(traces.directory)))
    if args.trace:
        found = [t for t in found if t[0]["trace_id"] == args.trace]
        if not found:
            raise ConfigError(f"no trace {args.trace} in {config.state_path(traces.directory)}")
    for trace in found[-args.last :]:
        if args.json:
            print(json.dumps(sorted(trace, key=lambda s: s["start_ns"])))
        else:
            print("\n".join(render_trace(trace)))
    return 0


def add_parser(commands: argparse._SubParsersAction, default_state_dir: Path) -> None:
    command = commands.add_parser("traces", help="show the last traces of a running or stopped local stack")
    command.add_argument("--last", type=int, default=10, metavar="N", help="how many of the newest traces (default 10)")
    command.add_argument("--trace", help="only this trace id")
    command.add_argument("--json", action="store_true", help="one JSON array of spans per trace")
    command.add_argument("--state-dir", type=Path, default=default_state_dir, help="default: $STACKMESH_STATE_DIR or .stackmesh")
    command.set_defaults(run=run)
