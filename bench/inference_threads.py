"""Thread and polling settings of llama.cpp and torch, measured with the whole stack running.

For each variant a full local stack starts (Postgres, NATS, inference, Envoy) with the
variant's provider config, and the same load runs through the gateway: chat decode tokens/s
with 1 and 4 concurrent requests and while embeddings run, and embedding sentences/s alone
and while 2 chat requests run. Usage: python bench/inference_threads.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import openai
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh_launcher.stack import LocalStack  # noqa: E402

CHAT = "SmolLM2-135M-Instruct"
EMBED = "all-MiniLM-L6-v2"
PROMPT = [{"role": "user", "content": "Tell me a long story about the sea."}]
SENTENCES = [f"sentence number {i} about ships, harbours and the weather at sea" for i in range(64)]
# (llama n_threads, llama poll, torch threads)
VARIANTS = [(1, 0, 1), (2, 0, 2), (2, 50, 2), (1, 50, 1)]


def chat_tokens_per_second(client: openai.OpenAI, concurrency: int, max_tokens: int = 96) -> float:
    counts: list[int] = []

    def one() -> None:
        reply = client.chat.completions.create(model=CHAT, messages=PROMPT, max_tokens=max_tokens, temperature=0.7, seed=1)
        counts.append(reply.usage.completion_tokens)

    started = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def sentences_per_second(client: openai.OpenAI, rounds: int = 5) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        client.embeddings.create(model=EMBED, input=SENTENCES)
    return rounds * len(SENTENCES) / (time.perf_counter() - started)


def embeddings_under_chat_load(client: openai.OpenAI) -> float:
    stop = threading.Event()

    def chat_loop() -> None:
        while not stop.is_set():
            client.chat.completions.create(model=CHAT, messages=PROMPT, max_tokens=64)

    load = [threading.Thread(target=chat_loop) for _ in range(2)]
    for t in load:
        t.start()
    time.sleep(0.5)
    try:
        return sentences_per_second(client)
    finally:
        stop.set()
        for t in load:
            t.join()


def chat_under_embedding_load(client: openai.OpenAI) -> float:
    """The case that collapses spinning thread pools: another busy process on the cores."""
    stop = threading.Event()

    def embed_loop() -> None:
        while not stop.is_set():
            client.embeddings.create(model=EMBED, input=SENTENCES)

    load = threading.Thread(target=embed_loop)
    load.start()
    time.sleep(0.5)
    try:
        return chat_tokens_per_second(client, 1)
    finally:
        stop.set()
        load.join()


def variant_config(base: dict, n_threads: int, poll: int, torch_threads: int, path: Path) -> Path:
    for provider in base["services"]["inference"]["providers"]:
        if provider["provider_type"] == "inline::llama-cpp":
            provider["config"].update(n_threads=n_threads, poll=poll)
        if provider["provider_type"] == "inline::sentence-transformers":
            provider["config"].update(torch_threads=torch_threads)
    path.write_text(yaml.safe_dump(base))
    return path


def main() -> None:
    print(
        f"{'llama threads':>13} {'poll':>5} {'torch':>6} {'chat tok/s c=1':>15} {'c=4':>8} {'under embed':>12}"
        f" {'embed sent/s':>13} {'under chat':>11}"
    )
    for n_threads, poll, torch_threads in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            base = yaml.safe_load((REPO / "deploy/distributions/local.yaml").read_text())
            config = variant_config(base, n_threads, poll, torch_threads, Path(tmp) / "dist.yaml")
            with LocalStack(config, Path(tmp) / "state", free_ports=True) as stack:
                client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=300)
                chat_tokens_per_second(client, 1, 16)  # warm up
                single = statistics.median(chat_tokens_per_second(client, 1) for _ in range(3))
                parallel = chat_tokens_per_second(client, 4)
                chat_loaded = chat_under_embedding_load(client)
                alone = sentences_per_second(client)
                loaded = embeddings_under_chat_load(client)
        print(
            f"{n_threads:>13} {poll:>5} {torch_threads:>6} {single:>15.1f} {parallel:>8.1f} {chat_loaded:>12.1f}"
            f" {alone:>13.1f} {loaded:>11.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
