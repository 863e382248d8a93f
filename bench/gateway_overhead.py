"""What the mesh adds to a chat completion, measured in one interleaved run.

(a) xllamacpp in process (the floor), (b) gRPC to the inference service, (c) REST through
Envoy with a plain keep-alive HTTP client, (d) the same with the openai SDK (its own parsing
included); chat completions with max_tokens=1, interleaved so machine noise hits all alike. Then `GET /v1/models` requests/s at concurrency 32 through the
gateway (loaded by wrk: a Python HTTP client saturates at ~500 req/s here, below Envoy)
and straight to gRPC (grpc.aio client). Usage: python bench/gateway_overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import json_format
import httpx
import openai

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh.inference.v1 import inference_service_pb2 as pb  # noqa: E402
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc  # noqa: E402
from stackmesh_inference.providers.llama_cpp import Config  # noqa: E402
from stackmesh_common.packaged_models import packaged_gguf  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import elapsed_ms, percentile  # noqa: E402

MESSAGES = [{"role": "user", "content": "Hi"}]
MODEL = "SmolLM2-135M-Instruct"


def in_process_server():
    import xllamacpp

    config = Config()  # the same thread/slot settings as the default distribution
    params = xllamacpp.CommonParams()
    params.model.path = str(packaged_gguf("smollm2-135m-instruct-q4_1"))
    params.n_parallel = config.parallel
    params.n_ctx = config.ctx_size
    params.cpuparams.n_threads = config.n_threads
    params.cpuparams.poll = config.poll
    params.cpuparams_batch.n_threads = config.n_threads
    params.cpuparams_batch.poll = config.poll
    params.verbosity = 0
    return xllamacpp.Server(params)


async def requests_per_second(call, concurrency: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def wrk_requests_per_second(url: str, seconds: float, headers: dict[str, str] | None = None) -> float:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    header_args = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run([wrk, "-t1", "-c32", f"-d{seconds:g}s", *header_args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk saw errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


async def direct_requests_per_second(stack: LocalStack, seconds: float) -> float:
    async with grpc.aio.insecure_channel(stack.service_address("inference")) as channel:
        stub = pb_grpc.ModelsServiceStub(channel)

        async def direct() -> None:
            await stub.ListModels(pb.ListModelsRequest())

        return await requests_per_second(direct, 32, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state, LocalStack(REPO / "deploy/distributions/local.yaml", Path(state), free_ports=True) as stack:
        floor = in_process_server()
        sdk = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0)
        http = httpx.Client(timeout=60)
        channel = grpc.insecure_channel(stack.service_address("inference"))
        stub = pb_grpc.InferenceServiceStub(channel)
        request = pb.CreateChatCompletionRequest(model=MODEL, max_tokens=1, temperature=0)
        json_format.ParseDict(MESSAGES[0], request.messages.add())

        paths = {
            "a. xllamacpp in process": lambda: floor.handle_chat_completions({"messages": MESSAGES, "max_tokens": 1, "temperature": 0}),
            "b. gRPC to the service": lambda: stub.CreateChatCompletion(request),
            "c. REST via Envoy (httpx)": lambda: http.post(
                f"{stack.gateway_url}/v1/chat/completions", json={"model": MODEL, "messages": MESSAGES, "max_tokens": 1, "temperature": 0}
            ).raise_for_status(),
            "d. REST via Envoy (openai SDK)": lambda: sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=1, temperature=0),
        }
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for name, call in paths.items():  # warm up every path
            for _ in range(5):
                call()
        for _ in range(args.rounds):
            for name, call in paths.items():
                samples[name].append(elapsed_ms(call))

        floor_p50 = statistics.median(samples["a. xllamacpp in process"])
        print(f"\nchat completion, max_tokens=1, {args.rounds} interleaved rounds")
        print(f"{'path':34} {'p50 ms':>8} {'p99 ms':>8} {'+p50 vs floor':>14}")
        for name, values in samples.items():
            p50 = statistics.median(values)
            print(f"{name:34} {p50:8.2f} {percentile(values, 99):8.2f} {p50 - floor_p50:+14.2f}")

        gateway_rps = wrk_requests_per_second(f"{stack.gateway_url}/v1/models", args.seconds)
        direct_rps = asyncio.run(direct_requests_per_second(stack, args.seconds))
        print(f"\nGET /v1/models at concurrency 32 for {args.seconds:g}s")
        print(f"{'REST via Envoy (wrk)':34} {gateway_rps:8.0f} req/s")
        print(f"{'gRPC ListModels direct (grpc.aio)':34} {direct_rps:8.0f} req/s   (gateway/direct = {gateway_rps / direct_rps:.2f})")
        channel.close()
        http.close()


if __name__ == "__main__":
    main()
