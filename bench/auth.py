"""What authentication adds at the gateway, measured in one interleaved run.

Two Envoys in front of the same services, identical but for the auth check (ext_authz to the
auth service): `GET /v1/models` p50/p99 with an API key through one vs without through the
other (interleaved, keep-alive clients), and requests/s at concurrency 32 on each (wrk).
Usage: python bench/auth.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import wrk_requests_per_second  # noqa: E402
from bench.support import local_distribution, percentile  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from tests.support.auth import create_key, start_auth_gateway  # noqa: E402


def timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    client.get(url).raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state:
        distribution = local_distribution(Path(state), "inference", "vector_io", "auth")
        with LocalStack(distribution, Path(state) / "stack", free_ports=True) as stack:
            gateway = start_auth_gateway(stack, Path(state))
            try:
                secret = create_key(stack, "bench")
                open_url, authed_url = f"{stack.gateway_url}/v1/models", f"{gateway.url}/v1/models"
                plain = httpx.Client(timeout=30)
                keyed = httpx.Client(timeout=30, headers={"authorization": f"Bearer {secret}"})
                for _ in range(50):  # warm up both paths (connections, key cache)
                    timed(plain, open_url), timed(keyed, authed_url)
                without, with_key = [], []
                for _ in range(args.rounds):
                    without.append(timed(plain, open_url))
                    with_key.append(timed(keyed, authed_url))
                p50_without, p50_with = statistics.median(without), statistics.median(with_key)
                print(f"\nGET /v1/models, {args.rounds} interleaved rounds (keep-alive httpx)")
                print(f"{'path':28} {'p50 ms':>8} {'p99 ms':>8}")
                print(f"{'no auth':28} {p50_without:8.3f} {percentile(without, 99):8.3f}")
                print(f"{'API key (ext_authz)':28} {p50_with:8.3f} {percentile(with_key, 99):8.3f}")
                print(f"added p50: {p50_with - p50_without:+.3f} ms")

                rps_without = wrk_requests_per_second(open_url, args.seconds)
                rps_with = wrk_requests_per_second(authed_url, args.seconds, headers={"authorization": f"Bearer {secret}"})
                print(f"\nGET /v1/models at concurrency 32 for {args.seconds:g}s (wrk)")
                print(f"{'no auth':28} {rps_without:8.0f} req/s")
                print(f"{'API key (ext_authz)':28} {rps_with:8.0f} req/s   (with/without = {rps_with / rps_without:.3f})")
                plain.close()
                keyed.close()
            finally:
                gateway.stop()


if __name__ == "__main__":
    main()
