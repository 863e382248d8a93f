"""The fuzzers of tests/fuzz at a larger size, against a local stack this script starts.

Schemathesis over every operation of the gateway's /v1/openapi.json (positive and negative
cases) and hypothesis-generated protobuf messages to every unary gRPC method (hostile ones
included: invalid UTF-8, huge repeated fields, deep Structs), side by side as in the tests.
Prints the case counts, a histogram of statuses, and each kind of failure with an example;
exits 1 when there is one. Usage:

    python bench/fuzz.py [--examples 100] [--negative-examples N] [--grpc-examples 300]
                         [--huge-mb 16] [--only rest|grpc]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh_launcher.stack import LocalStack  # noqa: E402
from tests.fuzz import grpc_messages  # noqa: E402
from tests.fuzz.outcomes import Outcomes  # noqa: E402
from tests.fuzz.rest import fuzz_rest  # noqa: E402
from tests.fuzz.seeds import seed_resources  # noqa: E402
from tests.fuzz.stack_checks import restarts, serving_problems  # noqa: E402

LOCAL = REPO / "deploy" / "distributions" / "local.yaml"
DESCRIPTOR = REPO / "build" / "stackmesh.binpb"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100, help="positive REST cases per operation")
    parser.add_argument("--negative-examples", type=int, help="negative REST cases per operation (default: --examples)")
    parser.add_argument("--grpc-examples", type=int, default=300, help="messages per unary gRPC method")
    parser.add_argument("--huge-mb", type=float, default=16, help="size cap of a huge repeated field, MB")
    parser.add_argument("--only", choices=["rest", "grpc"], help="run one fuzzer")
    parser.add_argument("--distribution", type=Path, default=LOCAL)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stackmesh-fuzz-") as state_dir:
        started = time.monotonic()
        stack = LocalStack(args.distribution, state_dir=state_dir, free_ports=True, out=sys.stdout)
        stack.start()
        print(f"stack ready in {time.monotonic() - started:.0f} s")
        try:
            return fuzz(stack, args)
        finally:
            stack.stop()


def fuzz(stack: LocalStack, args: argparse.Namespace) -> int:
    before = restarts(stack)
    outcomes = Outcomes()
    addresses = {name: stack.service_address(name) for name in stack.config.services}
    started = time.monotonic()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        grpc_run = None
        if args.only != "rest":
            grpc_run = pool.submit(grpc_messages.run, addresses, DESCRIPTOR, args.grpc_examples, int(args.huge_mb * 1024 * 1024))
        if args.only != "grpc":
            document = httpx.get(f"{stack.gateway_url}/v1/openapi.json", timeout=30).json()
            seeds = seed_resources(stack.gateway_url)
            fuzz_rest(stack.gateway_url, document, args.examples, outcomes, negative_examples=args.negative_examples, seeds=seeds)
            print(f"REST done in {time.monotonic() - started:.0f} s")
        if grpc_run is not None:
            outcomes.merge(grpc_run.result())
            print(f"gRPC done in {time.monotonic() - started:.0f} s")
    print(f"\n{outcomes.report()}")
    problems = serving_problems(stack)
    crashed = {name: count - before.get(name, 0) for name, count in restarts(stack).items() if count != before.get(name, 0)}
    print(f"\nafterwards: {'serving' if not problems else problems}; restarts during the run: {crashed or 'none'}")
    return 1 if outcomes.failure_count or problems or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
