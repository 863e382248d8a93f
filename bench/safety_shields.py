"""Run-shield latency per provider and throughput at concurrency 16, over gRPC, in one run.

Every shield of the default distribution checks the same conversation (a user question
and an assistant answer with a Python block): sequential calls interleaved across shields
for p50/p99, then each shield alone at concurrency 16 for requests/s. ListShields (no
provider work) is the floor. The llama-guard shield runs on SmolLM2, a stand-in whose
answers are not verdicts: its calls end in `guard_output_unparseable` after the full
guard-model round trip, which is what is timed.
Usage: python bench/safety_shields.py [--rounds N] [--guard-rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable

import grpc
from google.protobuf import json_format

REPO = Path(__file__).resolve().parents[1]

from stackmesh.safety.v1 import safety_service_pb2 as pb  # noqa: E402
from stackmesh.safety.v1 import safety_service_pb2_grpc as pb_grpc  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import percentile  # noqa: E402

CONVERSATION = [
    {"role": "user", "content": "I keep a list of server names in a file. Can you show me how to ping each of them from Python "
     "and print which ones are down? Keep it short, I'm new to this."},
    {"role": "assistant", "content": "Sure:\n```python\nimport subprocess\n\nwith open('servers.txt') as f:\n    for name in f:\n"
     "        name = name.strip()\n        ok = subprocess.call(f'ping -c 1 {name}', shell=True) == 0\n"
     "        print(name, 'up' if ok else 'down')\n```\nRun it with `python ping.py`."},
]  # fmt: skip
SHIELDS = {"pii": "inline::pii", "code-scanner": "inline::code-scanner", "prompt-guard": "inline::prompt-guard", "llama-guard": "inline::llama-guard"}
CONCURRENCY = 16


async def timed(call: Callable[[], Awaitable[str]]) -> tuple[float, str]:
    started = time.perf_counter()
    outcome = await call()
    return (time.perf_counter() - started) * 1000, outcome


async def requests_per_second(call: Callable[[], Awaitable[str]], seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def bench(address: str, rounds: int, guard_rounds: int, seconds: float) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        safety = pb_grpc.SafetyServiceStub(channel)
        shields = pb_grpc.ShieldsServiceStub(channel)

        def run_shield(shield_id: str) -> Callable[[], Awaitable[str]]:
            request = pb.RunShieldRequest(shield_id=shield_id)
            for message in CONVERSATION:
                json_format.ParseDict(message, request.messages.add())

            async def call() -> str:
                try:
                    reply = await safety.RunShield(request, timeout=120)
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name
                return reply.violation.violation_level if reply.HasField("violation") else "no violation"

            return call

        async def list_shields() -> str:
            await shields.ListShields(pb.ListShieldsRequest(), timeout=10)
            return "ok"

        calls = {"ListShields (floor)": ("-", list_shields), **{s: (p, run_shield(s)) for s, p in SHIELDS.items()}}
        for _, call in calls.values():  # warm up: the prompt-guard corpus, llama.cpp's prompt cache
            for _ in range(3):
                await call()
        samples: dict[str, list[float]] = {name: [] for name in calls}
        outcomes: dict[str, set[str]] = {name: set() for name in calls}
        for round_ in range(rounds):
            for name, (_, call) in calls.items():
                if name == "llama-guard" and round_ >= guard_rounds:
                    continue
                elapsed, outcome = await timed(call)
                samples[name].append(elapsed)
                outcomes[name].add(outcome)
        throughput = {name: await requests_per_second(call, seconds) for name, (_, call) in calls.items()}

    floor = statistics.median(samples["ListShields (floor)"])
    print(f"\nrun-shield over gRPC: {rounds} interleaved sequential rounds ({guard_rounds} for llama-guard), "
          f"then concurrency {CONCURRENCY} for {seconds:g} s each")  # fmt: skip
    print(f"{'shield':22} {'provider':22} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'p50/floor':>10} {'req/s @16':>10}  outcome")
    for name, (provider, _) in calls.items():
        values = samples[name]
        p50 = statistics.median(values)
        print(
            f"{name:22} {provider:22} {len(values):4} {p50:8.2f} {percentile(values, 99):8.2f} {p50 / floor:10.1f} "
            f"{throughput[name]:10.1f}  {', '.join(sorted(outcomes[name]))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--guard-rounds", type=int, default=20, help="sequential rounds for llama-guard (a model call each)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--safety", help="address of a running safety service (default: start a local stack)")
    args = parser.parse_args()
    if args.safety:
        asyncio.run(bench(args.safety, args.rounds, args.guard_rounds, args.seconds))
        return
    with tempfile.TemporaryDirectory() as state, LocalStack(REPO / "deploy/distributions/local.yaml", Path(state), gateway=False) as stack:
        asyncio.run(bench(stack.service_address("safety"), args.rounds, args.guard_rounds, args.seconds))


if __name__ == "__main__":
    main()
