"""Dynamic batching of the sentence-transformers provider, on the real all-MiniLM-L6-v2."""

import asyncio

import pytest

from stackmesh_inference.providers.sentence_transformers import Config, SentenceTransformersProvider

MODEL = "all-MiniLM-L6-v2"
TEXTS = ["ships in the harbour", "a cat on a mat", "rain over the sea", "stock markets fell"]


@pytest.fixture(scope="module")
async def provider():
    provider = SentenceTransformersProvider(Config(max_merged_inputs=3))
    await provider.load_model(MODEL, "embedding")
    yield provider
    await provider.close()


async def test_concurrent_requests_get_their_own_vectors(provider):
    """Merged passes hand each caller exactly the vectors of its own inputs."""
    alone = [(await provider.embeddings(MODEL, [text], None)).vectors[0] for text in TEXTS]
    merged = await asyncio.gather(*(provider.embeddings(MODEL, [text], None) for text in TEXTS))
    for single, result in zip(alone, merged):
        assert len(result.vectors) == 1
        assert result.vectors[0] == pytest.approx(single, abs=1e-5)
    assert all(result.prompt_tokens > 0 for result in merged)


async def test_dimensions_truncate_per_request(provider):
    full, short = await asyncio.gather(provider.embeddings(MODEL, TEXTS[:2], None), provider.embeddings(MODEL, TEXTS[:2], 64))
    assert [len(v) for v in full.vectors] == [384, 384]
    assert [len(v) for v in short.vectors] == [64, 64]
    assert short.vectors[0] == pytest.approx(full.vectors[0][:64], abs=1e-6)


async def test_a_request_larger_than_the_merge_limit_still_runs(provider):
    result = await provider.embeddings(MODEL, TEXTS * 2, None)
    assert len(result.vectors) == 8
