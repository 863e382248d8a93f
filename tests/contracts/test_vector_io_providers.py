"""The vector_io provider contract, run against every provider: a new provider gets it for free."""

from __future__ import annotations

import time
import traceback
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import numpy as np
import psycopg
import pytest

from stackmesh_common.config import ProviderConfig
from stackmesh_common.errors import InvalidArgument
from stackmesh_launcher.stack import LocalStack
from stackmesh_vector_io import providers
from stackmesh_vector_io.filters import MAX_COMPARISONS, MAX_LIST_VALUES, Comparison, Compound, Filter, parse_filter
from stackmesh_vector_io.providers.base import ProviderContext, StoredChunk, VectorIOProvider
from stackmesh_vector_io.db_errors import DatabaseError

SCHEMA = "vector_io_contract"
DIMENSION = 8
# Small enough that the contract exercises pgvector's load-then-index path.
BULK_ROWS = 40


@pytest.fixture(scope="module", params=[p.provider_type for p in providers.BUILTIN])
async def provider(request: pytest.FixtureRequest, stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[VectorIOProvider]:
    with psycopg.connect(stack.config.postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    config = {"bulk_load_rows": BULK_ROWS} if request.param == "remote::pgvector" else {}
    context = ProviderContext(stack.config.postgres, SCHEMA, Path(tmp_path_factory.mktemp("providers")))
    loaded = await providers.registry().create(ProviderConfig(provider_id="p", provider_type=request.param, config=config), context)
    yield loaded.impl
    await loaded.impl.close()


@pytest.fixture
async def store(provider: VectorIOProvider) -> AsyncIterator[str]:
    store_id = f"vs_{uuid.uuid4().hex[:24]}"
    await provider.create_store(store_id, DIMENSION)
    yield store_id
    await provider.delete_store(store_id)


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def chunk(chunk_id: str, text: str, embedding: np.ndarray, file_id: str = "f1", position: int = 0, **extra: Any) -> StoredChunk:
    return StoredChunk(chunk_id=chunk_id, file_id=file_id, position=position, text=text, embedding=embedding, **extra)


def matches(node: Filter, attributes: dict[str, Any]) -> bool:
    """The reference semantics of filters (stackmesh_vector_io.filters' docstring), in Python."""
    if isinstance(node, Compound):
        results = [matches(f, attributes) for f in node.filters]
        return all(results) if node.op == "and" else any(results)

    def kind(value: Any) -> str:
        return "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "string"

    present, actual = node.key in attributes, attributes.get(node.key)
    same = lambda expected: present and kind(actual) == kind(expected) and actual == expected  # noqa: E731
    if node.op in ("eq", "ne"):
        return same(node.value) if node.op == "eq" else not same(node.value)
    if node.op in ("in", "nin"):
        found = any(same(v) for v in node.value)  # type: ignore[union-attr]
        return found if node.op == "in" else not found
    if not present or kind(actual) != kind(node.value) or kind(actual) == "boolean":
        return False
    return {"gt": actual > node.value, "gte": actual >= node.value, "lt": actual < node.value, "lte": actual <= node.value}[node.op]


async def test_replacing_a_files_chunks_twice_leaves_one_set(provider, store):
    """What a redelivered ingestion job does: the second replacement must not add a second set."""
    chunks = [chunk(f"f1_{i}", f"part {i}", unit(1, i), position=i) for i in range(3)]
    await provider.replace_file_chunks(store, "f1", chunks)
    await provider.replace_file_chunks(store, "f1", chunks)
    stored = await provider.file_chunks(store, "f1")
    assert [c.chunk_id for c in stored] == ["f1_0", "f1_1", "f1_2"]
    assert all(np.allclose(s.embedding, c.embedding) for s, c in zip(stored, chunks))


async def test_replacing_swaps_the_whole_set_and_leaves_other_files(provider, store):
    await provider.replace_file_chunks(store, "f1", [chunk(f"f1_{i}", "old", unit(1), position=i) for i in range(3)])
    await provider.replace_file_chunks(store, "f2", [chunk("f2_0", "other", unit(0, 1), file_id="f2")])
    await provider.replace_file_chunks(store, "f1", [chunk("f1_0", "new", unit(1))])
    assert [c.text for c in await provider.file_chunks(store, "f1")] == ["new"]
    assert [c.text for c in await provider.file_chunks(store, "f2")] == ["other"]


async def test_insert_replaces_chunks_with_the_same_id(provider, store):
    await provider.insert_chunks(store, [chunk("a", "first", unit(1), file_id=""), chunk("b", "bee", unit(0, 1), file_id="")])
    await provider.insert_chunks(store, [chunk("a", "second", unit(1), file_id="", content={"type": "text", "text": "second"})])
    hits = await provider.keyword_search(store, "first second bee", 10, None)
    assert sorted((h.chunk.chunk_id, h.chunk.text) for h in hits) == [("a", "second"), ("b", "bee")]
    assert next(h for h in hits if h.chunk.chunk_id == "a").chunk.content == {"type": "text", "text": "second"}


async def test_vector_search_ranks_by_cosine_similarity(provider, store):
    await provider.replace_file_chunks(
        store, "f1", [chunk("near", "n", unit(1, 0.1)), chunk("mid", "m", unit(1, 1)), chunk("far", "f", unit(-1, 0))]
    )
    hits = await provider.vector_search(store, unit(1, 0.1), 3, None)
    assert [h.chunk.chunk_id for h in hits] == ["near", "mid", "far"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[1].score == pytest.approx(float(unit(1, 0.1) @ unit(1, 1)), abs=1e-5)
    assert hits[2].score < 0
    assert hits[0].chunk.embedding is None
    assert len(await provider.vector_search(store, unit(1), 2, None)) == 2


async def test_keyword_search_matches_any_stemmed_word(provider, store):
    texts = {"a": "The cat runs fast", "b": "Dogs bark at night", "c": "Running shoes for sale", "d": "Nothing relevant here"}
    await provider.replace_file_chunks(store, "f1", [chunk(k, v, unit(1)) for k, v in texts.items()])
    assert {h.chunk.chunk_id for h in await provider.keyword_search(store, "run", 10, None)} == {"a", "c"}
    hits = await provider.keyword_search(store, "cats barking?", 10, None)
    assert {h.chunk.chunk_id for h in hits} == {"a", "b"}
    assert all(0 < h.score < 1 for h in hits)
    assert await provider.keyword_search(store, "!!", 10, None) == []


async def test_keyword_search_ranks_more_matching_words_first(provider, store):
    await provider.replace_file_chunks(
        store, "f1", [chunk("one", "vector database", unit(1)), chunk("two", "vector database hybrid search", unit(1))]
    )
    hits = await provider.keyword_search(store, "hybrid vector search", 10, None)
    assert [h.chunk.chunk_id for h in hits] == ["two", "one"]
    assert hits[0].score > hits[1].score


async def test_keyword_search_answers_with_chunks_having_every_word_when_k_of_them_do(provider, store):
    """Otherwise chunks with any word are ranked: repeating one word may then beat having both."""
    texts = {"both": "glacier moraine walk", "first": "glacier glacier glacier", "second": "moraine deposits", "none": "sea"}
    await provider.replace_file_chunks(store, "f1", [chunk(k, v, unit(1)) for k, v in texts.items()])
    assert [h.chunk.chunk_id for h in await provider.keyword_search(store, "glacier moraine", 1, None)] == ["both"]
    hits = await provider.keyword_search(store, "glacier moraine", 10, None)
    assert {h.chunk.chunk_id for h in hits} == {"both", "first", "second"}


ATTRIBUTES = {
    "a": {"lang": "en", "year": 2023, "draft": False},
    "b": {"lang": "fr", "year": 2024, "draft": True},
    "c": {"lang": "en", "year": 2024.5},
    "d": {"year": "2024"},
    "e": {},
    "f": {"lang": "de", "year": 2021, "draft": True},
}
FILTERS = [
    {"type": "eq", "key": "lang", "value": "en"},
    {"type": "ne", "key": "lang", "value": "en"},
    {"type": "eq", "key": "draft", "value": True},
    {"type": "eq", "key": "year", "value": 2024},
    {"type": "gt", "key": "year", "value": 2023},
    {"type": "gte", "key": "year", "value": 2023},
    {"type": "lt", "key": "year", "value": 2024},
    {"type": "lte", "key": "lang", "value": "en"},
    {"type": "gt", "key": "year", "value": "2023"},
    {"type": "in", "key": "lang", "value": ["fr", "de"]},
    {"type": "nin", "key": "lang", "value": ["fr", "de"]},
    {"type": "in", "key": "year", "value": [2024, "2024"]},
    {"type": "and", "filters": [{"type": "eq", "key": "lang", "value": "en"}, {"type": "gte", "key": "year", "value": 2024}]},
    {"type": "or", "filters": [{"type": "eq", "key": "draft", "value": True}, {"type": "lt", "key": "year", "value": 2023.5}]},
    {"type": "and", "filters": [{"type": "or", "filters": [{"type": "eq", "key": "lang", "value": "de"}, {"type": "eq", "key": "lang", "value": "fr"}]}, {"type": "ne", "key": "year", "value": 2024}]},
    {"type": "in", "key": "draft", "value": [True, "true", 1]},
    {"type": "nin", "key": "year", "value": [2024, "x", False]},
    # As large as filters may be: lists bound as one parameter, compounds the databases can parse.
    {"type": "in", "key": "lang", "value": [f"l{i}" for i in range(MAX_LIST_VALUES - 1)] + ["de"]},
    {"type": "nin", "key": "year", "value": [*range(3000, 3000 + MAX_LIST_VALUES - 1), 2021]},
    {"type": "or", "filters": [{"type": "eq", "key": "year", "value": 3000 + i} for i in range(MAX_COMPARISONS - 1)] + [{"type": "eq", "key": "lang", "value": "fr"}]},
    {"type": "and", "filters": [{"type": "ne", "key": "lang", "value": f"l{i}"} for i in range(MAX_COMPARISONS - 1)] + [{"type": "lt", "key": "year", "value": 2024}]},
]


@pytest.mark.parametrize("raw", FILTERS, ids=lambda f: str(f)[:70])
async def test_filters_select_what_the_reference_semantics_select(provider, store, raw):
    await provider.replace_file_chunks(
        store, "f1", [chunk(k, f"shared words {k}", unit(1, i), position=i, attributes=v) for i, (k, v) in enumerate(ATTRIBUTES.items())]
    )
    where = parse_filter(raw)
    expected = {k for k, v in ATTRIBUTES.items() if matches(where, v)}
    assert {h.chunk.chunk_id for h in await provider.vector_search(store, unit(1), 10, where)} == expected
    assert {h.chunk.chunk_id for h in await provider.keyword_search(store, "shared words", 10, where)} == expected


async def test_database_errors_leave_the_sent_values_out(provider, store):
    """Drivers quote what was sent: Postgres' CONTEXT echoes the JSON, SQLite the JSON path. These
    filters skip parse_filter's checks (which refuse NUL) to make the databases fail."""
    await provider.replace_file_chunks(store, "f1", [chunk("a", "text", unit(1), attributes={"k": "v"})])
    failures = []
    for where in (Comparison("eq", "k", "secret\x00value"), Comparison("eq", "secret\x00key", "v")):
        try:
            await provider.vector_search(store, unit(1), 5, where)
        except DatabaseError as exc:
            failures.append(exc)
    assert any("secret" in str(exc.__context__) for exc in failures), "no failure quoted the values"
    for exc in failures:
        logged = "".join(traceback.format_exception(exc))
        assert "secret" not in logged and type(exc.__context__).__name__ in logged


async def test_file_attributes_can_be_changed(provider, store):
    await provider.replace_file_chunks(store, "f1", [chunk("x", "text", unit(1), attributes={"tier": "free"})])
    await provider.set_file_attributes(store, "f1", {"tier": "paid"})
    paid = parse_filter({"type": "eq", "key": "tier", "value": "paid"})
    assert [h.chunk.chunk_id for h in await provider.vector_search(store, unit(1), 5, paid)] == ["x"]
    assert (await provider.file_chunks(store, "f1"))[0].attributes == {"tier": "paid"}


async def test_expired_chunks_are_never_returned(provider, store):
    now = int(time.time())
    await provider.insert_chunks(
        store,
        [chunk("gone", "ephemeral note", unit(1), file_id="", expires_at=now - 1), chunk("kept", "lasting note", unit(1), file_id="", expires_at=now + 3600)],
    )
    assert [h.chunk.chunk_id for h in await provider.vector_search(store, unit(1), 5, None)] == ["kept"]
    assert [h.chunk.chunk_id for h in await provider.keyword_search(store, "note", 5, None)] == ["kept"]


async def test_deleting_a_files_chunks_leaves_the_rest(provider, store):
    await provider.replace_file_chunks(store, "f1", [chunk("f1_0", "one", unit(1))])
    await provider.replace_file_chunks(store, "f2", [chunk("f2_0", "two", unit(1), file_id="f2")])
    await provider.delete_file_chunks(store, "f1")
    assert await provider.file_chunks(store, "f1") == []
    assert [h.chunk.chunk_id for h in await provider.vector_search(store, unit(1), 5, None)] == ["f2_0"]


async def test_a_large_first_insert_is_searchable(provider, store):
    """pgvector loads a big insert into an empty store before indexing it; the result must not differ."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(BULK_ROWS * 2, DIMENSION)).astype(np.float32)
    await provider.insert_chunks(store, [chunk(f"c{i}", f"token{i} common", v, file_id="") for i, v in enumerate(vectors)])
    hits = await provider.vector_search(store, vectors[17], 3, None)
    assert hits[0].chunk.chunk_id == "c17"
    assert [h.chunk.chunk_id for h in await provider.keyword_search(store, "token33", 5, None)] == ["c33"]
    await provider.insert_chunks(store, [chunk("late", "late arrival", unit(1), file_id="")])
    assert [h.chunk.chunk_id for h in await provider.keyword_search(store, "arrival", 5, None)] == ["late"]


async def test_dimensions_out_of_range_are_refused(provider):
    with pytest.raises(InvalidArgument) as caught:
        await provider.create_store(f"vs_{uuid.uuid4().hex[:24]}", 0)
    assert caught.value.param == "embedding_dimension"
