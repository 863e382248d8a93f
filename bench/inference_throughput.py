"""Inference throughput, in one run, as ratios (the box is noisy).

1. Decode tokens/s of SmolLM2 on the inline llama.cpp provider through the gateway (unary
   and streamed, SSE parsed) vs raw xllamacpp in this process with the same settings,
   interleaved. Target: >= 95 %.
2. Aggregate streamed tokens/s through the gateway at concurrency 8 vs 1, for llama.cpp
   thread/slot settings (the default is 1 thread, 4 slots). Target: >= 2x.
3. remote::vllm against llama.cpp's OpenAI-compatible server vs the same requests sent
   straight to that server with the same HTTP client: p50 latency added (max_tokens=1,
   interleaved) and throughput at concurrency 32, unary and streamed. Targets: <= 1 ms,
   >= 95 %.

Only the inference service runs (no safety or vector_io), so the numbers are its own.
Usage: python bench/inference_throughput.py [--tokens N] [--rounds N] [--waves N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh_inference.providers.llama_cpp import Config  # noqa: E402
from stackmesh_common.packaged_models import packaged_gguf  # noqa: E402
from stackmesh_inference.providers.vllm import Config as VllmConfig  # noqa: E402
from stackmesh_inference.providers.vllm import VllmProvider  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from tests.conftest import start_openai_server  # noqa: E402

MODEL = "SmolLM2-135M-Instruct"
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to sail."}]
# (n_threads, parallel slots) of the llama.cpp provider; the first is the default distribution's.
VARIANTS = [(1, 4), (1, 8), (2, 8)]
REMOTE_SLOTS = 32


def distribution(directory: Path, n_threads: int, parallel: int) -> Path:
    """local.yaml with the inference service alone, its llama.cpp provider set as asked."""
    data = yaml.safe_load((REPO / "deploy/distributions/local.yaml").read_text())
    data["services"] = {"inference": data["services"]["inference"]}
    for provider in data["services"]["inference"]["providers"]:
        if provider["provider_type"] == "inline::llama-cpp":
            provider["config"].update(n_threads=n_threads, parallel=parallel)
    path = directory / f"inference-{n_threads}-{parallel}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def in_process_server(n_threads: int, parallel: int) -> Any:
    import xllamacpp

    config = Config(n_threads=n_threads, parallel=parallel)
    params = xllamacpp.CommonParams()
    params.model.path = str(packaged_gguf("smollm2-135m-instruct-q4_1"))
    params.n_parallel = config.parallel
    params.n_ctx = config.ctx_size
    params.cpuparams.n_threads = config.n_threads
    params.cpuparams.poll = config.poll
    params.cpuparams_batch.n_threads = config.n_threads
    params.cpuparams_batch.poll = config.poll
    params.verbosity = 0
    params.warmup = False
    return xllamacpp.Server(params)


def story(tokens: int, **extra: Any) -> dict[str, Any]:
    return {"messages": STORY, "max_tokens": tokens, "temperature": 0, "seed": 1, **extra}


def sse_events(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def gateway_unary(http: httpx.Client, url: str, tokens: int) -> int:
    response = http.post(f"{url}/v1/chat/completions", json={"model": MODEL, **story(tokens)})
    response.raise_for_status()
    return response.json()["usage"]["completion_tokens"]


def gateway_stream(http: httpx.Client, url: str, tokens: int) -> int:
    body = {"model": MODEL, **story(tokens), "stream": True, "stream_options": {"include_usage": True}}
    with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        events = sse_events(list(response.iter_lines()))
    return events[-1]["usage"]["completion_tokens"]


def floor_unary(server: Any, tokens: int) -> int:
    return server.handle_chat_completions(story(tokens))["usage"]["completion_tokens"]


def floor_stream(server: Any, tokens: int) -> int:
    chunks: list[dict[str, Any]] = []
    server.handle_chat_completions(story(tokens, stream=True, stream_options={"include_usage": True}), chunks.append)
    return chunks[-1]["usage"]["completion_tokens"]


def rate(call: Callable[[], int]) -> float:
    started = time.perf_counter()
    tokens = call()
    return tokens / (time.perf_counter() - started)


def gateway_vs_floor(url: str, tokens: int, rounds: int) -> list[tuple[str, float, float]]:
    floor = in_process_server(*VARIANTS[0])
    paths = {
        "unary": (lambda: floor_unary(floor, tokens), lambda: gateway_unary(http, url, tokens)),
        "streamed": (lambda: floor_stream(floor, tokens), lambda: gateway_stream(http, url, tokens)),
    }
    rows = []
    with httpx.Client(timeout=300) as http:
        for name, (raw, mesh) in paths.items():
            raw(), mesh()  # warm up
            raw_rates, mesh_rates = [], []
            for round_ in range(rounds):  # ABBA order: a drift in machine load hits both alike
                for path in (raw, mesh) if round_ % 2 == 0 else (mesh, raw):
                    (raw_rates if path is raw else mesh_rates).append(rate(path))
            rows.append((name, statistics.median(raw_rates), statistics.median(mesh_rates)))
    return rows


def aggregate_tokens_per_second(url: str, concurrency: int, tokens: int, repeats: int) -> float:
    counts: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(timeout=600) as http:
            for _ in range(repeats):
                produced = gateway_stream(http, url, tokens)
                with lock:
                    counts.append(produced)

    threads = [threading.Thread(target=one) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def raw_concurrency(n_threads: int, parallel: int, tokens: int) -> tuple[float, float]:
    """Aggregate tokens/s of xllamacpp in process at concurrency 1 and 8."""
    server = in_process_server(n_threads, parallel)
    floor_unary(server, 16)  # warm up

    def at(concurrency: int) -> float:
        counts: list[int] = []
        threads = [threading.Thread(target=lambda: counts.append(floor_unary(server, tokens))) for _ in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts) / (time.perf_counter() - started)

    return statistics.median(at(1) for _ in range(3)), at(8)


async def elapsed_ms(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def wave_tokens_per_second(call: Callable[[], Awaitable[int]], concurrency: int) -> float:
    """Completion tokens/s of `concurrency` requests sent at once."""
    started = time.perf_counter()
    produced = await asyncio.gather(*(call() for _ in range(concurrency)))
    return sum(produced) / (time.perf_counter() - started)


async def adapter_vs_direct(url: str, rounds: int, waves: int, tokens: int) -> dict[str, tuple[float, float]]:
    provider = VllmProvider(VllmConfig(url=url, max_connections=REMOTE_SLOTS * 2))
    model = "smollm2-135m-instruct"
    direct = httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=REMOTE_SLOTS * 2))

    async def direct_unary(body: dict[str, Any]) -> int:
        response = await direct.post("/chat/completions", json={**body, "model": model})
        response.raise_for_status()
        return response.json()["usage"]["completion_tokens"]

    async def direct_stream(body: dict[str, Any]) -> int:
        wire = {**body, "model": model, "stream": True, "stream_options": {"include_usage": True}}
        async with direct.stream("POST", "/chat/completions", json=wire) as response:
            response.raise_for_status()
            events = [json.loads(line[6:]) async for line in response.aiter_lines() if line.startswith("data: {")]
        return events[-1]["usage"]["completion_tokens"]

    async def adapter_unary(body: dict[str, Any]) -> int:
        return (await provider.chat_completion(model, body))["usage"]["completion_tokens"]

    async def adapter_stream(body: dict[str, Any]) -> int:
        usage = 0
        async for chunk in provider.stream_chat_completion(model, {**body, "stream_options": {"include_usage": True}}):
            usage = (chunk.get("usage") or {}).get("completion_tokens", usage)
        return usage

    one_token = story(1)
    results: dict[str, tuple[float, float]] = {}
    try:
        for _ in range(5):  # warm up both paths and the pools
            await direct_unary(one_token), await adapter_unary(one_token)
        direct_latency, adapter_latency = [], []
        for _ in range(rounds):  # interleaved, so noise hits both alike
            direct_latency.append(await elapsed_ms(lambda: direct_unary(one_token)))
            adapter_latency.append(await elapsed_ms(lambda: adapter_unary(one_token)))
        results["p50 ms, max_tokens=1"] = (statistics.median(direct_latency), statistics.median(adapter_latency))
        body = story(tokens)
        for name, raw, adapted in (("unary", direct_unary, adapter_unary), ("streamed", direct_stream, adapter_stream)):
            direct_rates, adapter_rates = [], []
            for _ in range(waves):  # interleaved waves
                direct_rates.append(await wave_tokens_per_second(lambda: raw(body), REMOTE_SLOTS))
                adapter_rates.append(await wave_tokens_per_second(lambda: adapted(body), REMOTE_SLOTS))
            results[f"tok/s c={REMOTE_SLOTS}, {name}"] = (statistics.median(direct_rates), statistics.median(adapter_rates))
    finally:
        await direct.aclose()
        await provider.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="max_tokens of the throughput requests")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds per comparison")
    parser.add_argument("--waves", type=int, default=3, help="interleaved concurrency-32 waves per path")
    args = parser.parse_args()

    table: list[tuple[str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_threads, parallel in VARIANTS:
            config = distribution(Path(tmp), n_threads, parallel)
            with LocalStack(config, Path(tmp) / f"state-{n_threads}-{parallel}", free_ports=True) as stack:
                url = stack.gateway_url
                if (n_threads, parallel) == VARIANTS[0]:
                    for name, raw, mesh in gateway_vs_floor(url, args.tokens, args.rounds):
                        table.append((f"1. llama.cpp tok/s, {name}", "xllamacpp in process", f"{raw:.1f}", f"{mesh:.1f} via gateway", f"{mesh / raw:.1%}"))
                aggregate_tokens_per_second(url, 1, 16, 1)  # warm up
                single = statistics.median(aggregate_tokens_per_second(url, 1, args.tokens, 1) for _ in range(3))
                eight = aggregate_tokens_per_second(url, 8, args.tokens, 2)
                setting = f"{n_threads} thread{'s' if n_threads > 1 else ''}, {parallel} slots"
                table.append((f"2. tok/s c=8 vs c=1, {setting}", "concurrency 1", f"{single:.1f}", f"{eight:.1f} at c=8", f"{eight / single:.2f}x"))
            # The engine's own ceiling, with the stack stopped: what the mesh could reach.
            raw_single, raw_eight = raw_concurrency(n_threads, parallel, args.tokens)
            table.append((f"   raw xllamacpp, {setting}", "concurrency 1", f"{raw_single:.1f}", f"{raw_eight:.1f} at c=8", f"{raw_eight / raw_single:.2f}x"))

    server = start_openai_server("--parallel", str(REMOTE_SLOTS), "--ctx-size", str(REMOTE_SLOTS * 512))
    try:
        for name, (direct, adapter) in asyncio.run(adapter_vs_direct(server.url, args.rounds * 20, args.waves, 16)).items():
            if name.startswith("p50"):
                table.append((f"3. remote::vllm {name}", "direct httpx", f"{direct:.2f}", f"{adapter:.2f} adapter", f"{adapter - direct:+.2f} ms"))
            else:
                table.append((f"3. remote::vllm {name}", "direct httpx", f"{direct:.1f}", f"{adapter:.1f} adapter", f"{adapter / direct:.1%}"))
    finally:
        server.stop()

    print(f"\n{'measure':48} {'baseline':22} {'value':>8}   {'compared':22} {'ratio':>9}")
    for measure, baseline, value, compared, ratio in table:
        print(f"{measure:48} {baseline:22} {value:>8}   {compared:22} {ratio:>9}")


if __name__ == "__main__":
    main()
