"""What authentication adds at the gateway, measured in one interleaved run.

Two Envoys in front of the same services, identical but for the auth check: `GET /v1/models`
p50/p99 with an API key through one vs without through the other (interleaved, keep-alive
clients), and requests/s at concurrency 32 on each (wrk). Two keys: an unlimited one, whose
allowed answers the gateway reuses for up to 2 s (auth_cache.lua), and one under a request
rate limit (never reached), which the auth service must count: ext_authz on every request.
Usage: python bench/auth.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import wrk_requests_per_second  # noqa: E402
from bench.support import elapsed_ms, local_distribution, percentile  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from stackmesh.auth.v1 import auth_service_pb2 as auth_pb  # noqa: E402
from tests.support.auth import create_key, start_auth_gateway  # noqa: E402

WRK_SLICES = 3


def timed(client: httpx.Client, url: str) -> float:
    return elapsed_ms(lambda: client.get(url).raise_for_status())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state:
        distribution = local_distribution(Path(state), "inference", "vector_io", "auth")
        with LocalStack(distribution, Path(state) / "stack", free_ports=True) as stack:
            gateway = start_auth_gateway(stack, Path(state))
            try:
                keys = {
                    "API key (gateway cache)": create_key(stack, "bench"),
                    "rate-limited key (checked)": create_key(stack, "bench-limited", limits=auth_pb.Limits(requests_per_minute=10**9)),
                }
                open_url, authed_url = f"{stack.gateway_url}/v1/models", f"{gateway.url}/v1/models"
                plain = httpx.Client(timeout=30)
                keyed = {name: httpx.Client(timeout=30, headers={"authorization": f"Bearer {secret}"}) for name, secret in keys.items()}
                for _ in range(50):  # warm up every path (connections, caches)
                    timed(plain, open_url), [timed(client, authed_url) for client in keyed.values()]
                without: list[float] = []
                with_key: dict[str, list[float]] = {name: [] for name in keys}
                for _ in range(args.rounds):
                    without.append(timed(plain, open_url))
                    for name, client in keyed.items():
                        with_key[name].append(timed(client, authed_url))
                p50_without = statistics.median(without)
                print(f"\nGET /v1/models, {args.rounds} interleaved rounds (keep-alive httpx)")
                print(f"{'path':28} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10}")
                print(f"{'no auth':28} {p50_without:8.3f} {percentile(without, 99):8.3f}")
                for name, samples in with_key.items():
                    p50 = statistics.median(samples)
                    print(f"{name:28} {p50:8.3f} {percentile(samples, 99):8.3f} {p50 - p50_without:+9.3f}")

                # Interleaved slices, so that a noisy moment on the machine hits every path alike.
                targets = {"no auth": (open_url, {})} | {name: (authed_url, {"authorization": f"Bearer {secret}"}) for name, secret in keys.items()}
                rates: dict[str, list[float]] = {name: [] for name in targets}
                for _ in range(WRK_SLICES):
                    for name, (url, headers) in targets.items():
                        rates[name].append(wrk_requests_per_second(url, max(1, round(args.seconds / WRK_SLICES)), headers=headers))
                rps_without = statistics.mean(rates["no auth"])
                print(f"\nGET /v1/models at concurrency 32, {args.seconds:g}s per path in {WRK_SLICES} interleaved slices (wrk)")
                for name, samples in rates.items():
                    rps = statistics.mean(samples)
                    print(f"{name:28} {rps:8.0f} req/s   (with/without = {rps / rps_without:.3f})")
                plain.close()
                for client in keyed.values():
                    client.close()
            finally:
                gateway.stop()


if __name__ == "__main__":
    main()
