"""Chat throughput with 1 vs 2 inference replicas, and a replica killed under load.

The inference service runs only a `remote::vllm` provider, pointed at llama.cpp's
OpenAI-compatible server (tests/support/openai_server.py, `--parallel` slots) standing in for
vLLM: the model runs once, outside the replicas, so the ratio measures what a second replica
of the service itself adds (request handling, JSON/protobuf, the provider's HTTP client).
Then, with 2 replicas, one is killed (SIGKILL) a third of the way into --kill-seconds of chat
load and the failed requests are counted (target: at most 0.1 %).
Usage: python bench/replicas.py [--seconds S] [--concurrency N] [--kill-seconds S]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.support import local_distribution  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from tests.conftest import start_openai_server  # noqa: E402

MODEL = "smollm2-vllm"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 16, "temperature": 0}


def distribution(directory: Path, server_url: str) -> Path:
    path = local_distribution(directory, "inference", "vector_io")
    data = yaml.safe_load(path.read_text())
    inference = data["services"]["inference"]
    inference["providers"] = [{"provider_id": "vllm", "provider_type": "remote::vllm", "config": {"url": server_url}}]
    inference["resources"] = {"models": [{"model_id": MODEL, "provider_id": "vllm", "provider_model_id": "smollm2-135m-instruct"}]}
    data["services"]["vector_io"]["resources"] = {}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def chat_load(url: str, seconds: float, concurrency: int) -> Counter[int]:
    """Status codes of chats sent for `seconds` by `concurrency` keep-alive clients."""
    deadline = time.monotonic() + seconds
    codes: Counter[int] = Counter()

    def loop() -> None:
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < deadline:
                try:
                    codes[client.post(url, json=CHAT).status_code] += 1
                except httpx.HTTPError:
                    codes[0] += 1  # no answer at all

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: loop(), range(concurrency)))
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load per measure")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--slots", type=int, default=8, help="llama.cpp server slots")
    parser.add_argument("--kill-seconds", type=float, default=60.0)
    args = parser.parse_args()

    server = start_openai_server("--parallel", str(args.slots), "--threads", "1")
    try:
        rates = {}
        for replicas in (1, 2):
            with tempfile.TemporaryDirectory() as state:
                config = distribution(Path(state), server.url)
                with LocalStack(config, Path(state) / "stack", free_ports=True, replicas={"inference": replicas}) as stack:
                    url = f"{stack.gateway_url}/v1/chat/completions"
                    chat_load(url, 3, args.concurrency)  # warm up
                    codes = chat_load(url, args.seconds, args.concurrency)
                    assert set(codes) == {200}, codes
                    rates[replicas] = sum(codes.values()) / args.seconds
                    print(f"{replicas} replica(s): {rates[replicas]:.2f} chats/s at concurrency {args.concurrency}")
                    if replicas == 2:
                        killer = threading.Timer(args.kill_seconds / 3, stack.stop_component, ("inference-2", signal.SIGKILL))
                        killer.start()
                        codes = chat_load(url, args.kill_seconds, args.concurrency)
                        killer.join()
                        total, failed = sum(codes.values()), sum(n for code, n in codes.items() if code != 200)
                        print(
                            f"inference-2 killed {args.kill_seconds / 3:.0f} s into {args.kill_seconds:g} s of load:"
                            f" {failed} of {total} chats failed ({100 * failed / total:.3f} %; {dict(codes)})"
                        )
        print(f"\n2 vs 1 replica: {rates[2] / rates[1]:.3f}x   (the model itself is not replicated)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
