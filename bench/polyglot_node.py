"""What the REST gateway adds for a Node backend, against gRPC straight to the service.

Starts a stack of inference + vector_io with the gateway, then clients/node/bench.js measures
from one Node process, interleaved: (a) a chat completion (max_tokens=1, temperature 0), (b) the
same vector store search (the query embedded by the inference service) and (c) a model lookup
(no work: the transports' own cost), each over gRPC (@grpc/grpc-js) and over REST through Envoy
with Node's fetch and with node:http (keep-alive both). Target: REST adds at most 1.5 ms at p50;
the node:http column is the gateway's share, fetch adds its own (undici) cost on top.
Usage: python bench/polyglot_node.py [--iterations 200] [--warmup 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import local_distribution, percentile  # noqa: E402

NODE_CLIENT = REPO / "clients" / "node"
CHAT_MODEL = "SmolLM2-135M-Instruct"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
TARGET_ADDED_P50_MS = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    node = shutil.which("node")
    if node is None:
        sys.exit("node (20 or newer) is not on PATH")
    subprocess.run(["bash", str(NODE_CLIENT / "setup.sh")], check=True)

    with tempfile.TemporaryDirectory() as tmp:
        with LocalStack(local_distribution(Path(tmp), "inference", "vector_io"), state_dir=Path(tmp) / "state", free_ports=True, out=sys.stderr) as stack:
            run = subprocess.run(
                [
                    node,
                    str(NODE_CLIENT / "bench.js"),
                    "--inference", stack.service_address("inference"),
                    "--vector-io", stack.service_address("vector_io"),
                    "--gateway", stack.gateway_url,
                    "--chat-model", CHAT_MODEL,
                    "--embedding-model", EMBEDDING_MODEL,
                    "--iterations", str(args.iterations),
                    "--warmup", str(args.warmup),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
    if run.returncode != 0:
        sys.exit(f"bench.js exited with code {run.returncode}")
    samples: dict[str, dict[str, list[float]]] = json.loads(run.stdout)

    print(f"\nfrom Node, {args.iterations} interleaved rounds after {args.warmup} warm-up; p50 (p95) in ms;"
          f" target: REST adds <= {TARGET_ADDED_P50_MS} ms p50")
    print(f"{'operation':22} {'gRPC':>15} {'REST node:http':>15} {'REST fetch':>15} {'+http':>7} {'+fetch':>7} {'ratio':>6}  target")
    for name, label in (("chat", "chat, max_tokens=1"), ("search", "vector store search"), ("model", "model lookup")):
        timings = samples[name]
        p50 = {transport: statistics.median(ms) for transport, ms in timings.items()}
        cell = {transport: f"{p50[transport]:.2f} ({percentile(ms, 95):.2f})" for transport, ms in timings.items()}
        added_http, added_fetch = p50["http"] - p50["grpc"], p50["fetch"] - p50["grpc"]
        print(
            f"{label:22} {cell['grpc']:>15} {cell['http']:>15} {cell['fetch']:>15} {added_http:+7.2f} {added_fetch:+7.2f}"
            f" {p50['http'] / p50['grpc']:6.3f}  {'met' if added_http <= TARGET_ADDED_P50_MS else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
