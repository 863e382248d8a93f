"""What traces and metrics cost, measured in one interleaved run.

Two local stacks of the inference service, identical but for `telemetry` (off in one; in the
other every call is a span written to the trace files and counted in the Prometheus metrics,
the gateway starting each trace): `GET /v1/models` and a short chat completion, p50 through
each gateway (interleaved, keep-alive clients), then requests/s of each at concurrency 32
(wrk, `GET /v1/models`) and 4 (chat), in interleaved slices.
Usage: python bench/telemetry.py [--rounds N] [--chats N] [--seconds S] [--sample-ratio R]
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
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import wrk_requests_per_second  # noqa: E402
from bench.support import elapsed_ms, local_distribution, percentile  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402

CHAT_MODEL = "llama-cpp/SmolLM2-135M-Instruct"
CHAT = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0}
SLICES = 3


def distribution(directory: Path, telemetry: bool, sample_ratio: float) -> Path:
    path = local_distribution(directory, "inference", "vector_io")
    data = yaml.safe_load(path.read_text())
    traces = {"enabled": telemetry, "directory": "traces", "sample_ratio": sample_ratio}
    data["telemetry"] = {"metrics": {"enabled": telemetry}, "traces": traces}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


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
    parser.add_argument("--sample-ratio", type=float, default=1.0, help="of the traces the gateway starts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state:
        root = Path(state)
        stacks = {}
        for name, on in (("telemetry off", False), ("traces + metrics", True)):
            (root / name).mkdir()
            stacks[name] = LocalStack(distribution(root / name, on, args.sample_ratio), root / name / "stack", free_ports=True)
        try:
            for stack in stacks.values():
                stack.start()
            clients = {name: httpx.Client(base_url=stack.gateway_url, timeout=120) for name, stack in stacks.items()}
            for client in clients.values():  # warm up
                for _ in range(50):
                    timed(client, "GET", "/v1/models")
                timed(client, "POST", "/v1/chat/completions", CHAT)

            print(f"\n{'':22} {'models p50':>11} {'p99':>8} {'chat p50':>10} {'p99':>8}   (ms)")
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
                print(
                    f"{name:22} {statistics.median(models[name]):11.3f} {percentile(models[name], 99):8.3f}"
                    f" {statistics.median(chats[name]):10.2f} {percentile(chats[name], 99):8.2f}"
                )
            on = "traces + metrics"
            print(f"added p50: GET /v1/models {statistics.median(models[on]) - statistics.median(models[base]):+.3f} ms,"
                  f" chat {statistics.median(chats[on]) - statistics.median(chats[base]):+.2f} ms")

            rates = {name: [] for name in stacks}
            chat_rates = {name: [] for name in stacks}
            for _ in range(SLICES):
                for name, stack in stacks.items():
                    rates[name].append(wrk_requests_per_second(f"{stack.gateway_url}/v1/models", max(1, round(args.seconds / SLICES))))
                    chat_rates[name].append(chats_per_second(f"{stack.gateway_url}/v1/chat/completions", args.seconds / SLICES))
            print(f"\nthroughput, {args.seconds:g}s per stack in {SLICES} interleaved slices")
            for name in stacks:
                rps, cps = statistics.mean(rates[name]), statistics.mean(chat_rates[name])
                print(
                    f"{name:22} GET /v1/models c32 {rps:7.0f} req/s ({rps / statistics.mean(rates[base]):.3f}x)"
                    f"   chat c4 {cps:6.2f} req/s ({cps / statistics.mean(chat_rates[base]):.3f}x)"
                )
            for client in clients.values():
                client.close()
        finally:
            for stack in stacks.values():
                stack.stop()


if __name__ == "__main__":
    main()
