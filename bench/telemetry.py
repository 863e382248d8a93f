"""What traces and metrics cost, measured in one interleaved run.

Local stacks of the inference service, identical but for `telemetry`: off in the first, and in
the others as `--variants` says (by default a second stack with telemetry off, metrics alone,
then metrics with traces sampled at 5 % and at 100 %: each sampled call is a span in the trace
files, the gateway starting each trace). `GET /v1/models` and a short chat completion, p50
through each gateway (interleaved, keep-alive clients), then requests/s of each at concurrency
32 (wrk, `GET /v1/models`) and 4 (chat), in interleaved slices, with the inference process's
CPU time per `GET /v1/models` during them (steadier than requests/s on a shared 2-core box).
Every ratio is against the first stack with telemetry off.
Usage: python bench/telemetry.py [--rounds N] [--chats N] [--seconds S] [--variants off,metrics,all:0.05,all:1]
  variant: `off` (a second stack without telemetry: how much two identical stacks differ on
  this box), `metrics`, `traces:R` (traces sampled at R, no metrics) or `all:R` (both).
  bench/telemetry_calls.py measures the per-call cost below that noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import wrk_requests_per_second  # noqa: E402
from bench.support import elapsed_ms, local_distribution, percentile  # noqa: E402
from stackmesh_launcher import state  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402

CHAT_MODEL = "llama-cpp/SmolLM2-135M-Instruct"
CHAT = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0}
SLICES = 3


def distribution(directory: Path, metrics: bool, sample_ratio: float | None) -> Path:
    """local.yaml's inference + vector_io with metrics on or off and traces at `sample_ratio`
    (None: off)."""
    path = local_distribution(directory, "inference", "vector_io")
    data = yaml.safe_load(path.read_text())
    traces = {"enabled": sample_ratio is not None, "directory": "traces", "sample_ratio": sample_ratio or 0.0}
    data["telemetry"] = {"metrics": {"enabled": metrics}, "traces": traces}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def variant(spec: str) -> tuple[str, bool, float | None]:
    """`off`, `metrics`, `traces:R` or `all:R` -> (label, metrics on, trace sample ratio or None)."""
    kind, _, ratio = spec.partition(":")
    if kind == "off" and not ratio:
        return "off again (control)", False, None
    if kind == "metrics" and not ratio:
        return "metrics", True, None
    if kind in ("traces", "all") and ratio:
        label = f"traces {float(ratio):.0%}" + (" + metrics" if kind == "all" else "")
        return label, kind == "all", float(ratio)
    raise SystemExit(f"unknown variant {spec!r}: off, metrics, traces:R or all:R")


def cpu_seconds(stack: LocalStack, component: str) -> float:
    """User + system CPU time the component's process has used so far."""
    [pid] = [c.process.pid for c in state.read(stack.state_dir).components if c.name == component]
    used = psutil.Process(pid).cpu_times()
    return used.user + used.system


def timed(client: httpx.Client, method: str, url: str, body: dict | None = None) -> float:
    return elapsed_ms(lambda: client.request(method, url, json=body).raise_for_status())


def chats_per_second(url: str, seconds: float, concurrency: int = 4) -> float:
    deadline = time.monotonic() + seconds

    def loop() -> int:
        done = 0
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < deadline:
                client.post(url, json=CHAT).raise_for_status()
                done += 1
        return done

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(lambda _: loop(), range(concurrency))) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="GET /v1/models rounds")
    parser.add_argument("--chats", type=int, default=60, help="chat completion rounds")
    parser.add_argument("--seconds", type=float, default=15.0, help="per stack, for each throughput measure")
    parser.add_argument("--variants", default="off,metrics,all:0.05,all:1", help="comma-separated, compared with telemetry off")
    args = parser.parse_args()
    variants = [("telemetry off", False, None)] + [variant(spec) for spec in args.variants.split(",")]

    with tempfile.TemporaryDirectory() as state:
        root = Path(state)
        stacks = {}
        for name, metrics, ratio in variants:
            (root / name).mkdir()
            stacks[name] = LocalStack(distribution(root / name, metrics, ratio), root / name / "stack", free_ports=True)
        try:
            for stack in stacks.values():
                stack.start()
            clients = {name: httpx.Client(base_url=stack.gateway_url, timeout=120) for name, stack in stacks.items()}
            for client in clients.values():  # warm up
                for _ in range(50):
                    timed(client, "GET", "/v1/models")
                timed(client, "POST", "/v1/chat/completions", CHAT)

            print(f"\n{'':26} {'models p50':>11} {'p99':>8} {'chat p50':>10} {'p99':>8}   added p50 (ms)")
            models = {name: [] for name in stacks}
            chats = {name: [] for name in stacks}
            for _ in range(args.rounds):
                for name, client in clients.items():
                    models[name].append(timed(client, "GET", "/v1/models"))
            for _ in range(args.chats):
                for name, client in clients.items():
                    chats[name].append(timed(client, "POST", "/v1/chat/completions", CHAT))
            base = "telemetry off"
            for name in stacks:
                added_models = statistics.median(models[name]) - statistics.median(models[base])
                added_chat = statistics.median(chats[name]) - statistics.median(chats[base])
                print(
                    f"{name:26} {statistics.median(models[name]):11.3f} {percentile(models[name], 99):8.3f}"
                    f" {statistics.median(chats[name]):10.2f} {percentile(chats[name], 99):8.2f}"
                    f"   models {added_models:+.3f}, chat {added_chat:+.2f}"
                )

            rates = {name: [] for name in stacks}
            chat_rates = {name: [] for name in stacks}
            cpu_per_request = {name: [] for name in stacks}
            slices = max(SLICES, len(stacks))
            order = list(stacks.items())
            for turn in range(slices):
                # Each slice starts with another stack: the first and last of a round fared
                # differently on this box (caches, scheduling), whatever their telemetry.
                for name, stack in order[turn % len(order):] + order[: turn % len(order)]:
                    seconds = max(1, round(args.seconds / slices))
                    before = cpu_seconds(stack, "inference")
                    rates[name].append(wrk_requests_per_second(f"{stack.gateway_url}/v1/models", seconds))
                    cpu_per_request[name].append((cpu_seconds(stack, "inference") - before) / (rates[name][-1] * seconds) * 1e6)
                    chat_rates[name].append(chats_per_second(f"{stack.gateway_url}/v1/chat/completions", args.seconds / slices))
            print(f"\nthroughput, {args.seconds:g}s per stack in {slices} interleaved slices, each round in another order")
            for name in stacks:
                rps, cps = statistics.mean(rates[name]), statistics.mean(chat_rates[name])
                cpu, base_cpu = statistics.median(cpu_per_request[name]), statistics.median(cpu_per_request[base])
                print(
                    f"{name:26} GET /v1/models c32 {rps:7.0f} req/s ({rps / statistics.mean(rates[base]):.3f}x),"
                    f" service CPU {cpu:4.0f} us/req ({cpu - base_cpu:+4.0f} us, {base_cpu / cpu:.3f}x)"
                    f"   chat c4 {cps:6.2f} req/s ({cps / statistics.mean(chat_rates[base]):.3f}x)"
                )
            for client in clients.values():
                client.close()
        finally:
            for stack in stacks.values():
                stack.stop()


if __name__ == "__main__":
    main()
