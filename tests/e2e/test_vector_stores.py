"""OpenAI Vector Stores through the gateway with the unmodified openai SDK, on every provider:
ingestion jobs, search in each mode, filters, file batches, raw vector IO, bad input."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import grpc
import httpx
import openai
import psycopg
import pytest

from stackmesh.vector_io.v1 import vector_io_service_pb2 as pb
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh_vector_io import providers
from stackmesh_vector_io.filters import MAX_COMPARISONS, MAX_LIST_VALUES
from tests.conftest import EMBEDDING_MODEL
from tests.e2e.test_bad_input import error_of
from tests.unit.test_vector_io_text import pdf_with_text

PROVIDERS = {"remote::pgvector": "pgvector", "inline::sqlite-vec": "sqlite-vec"}
DOCUMENTS = {
    "cats.md": (b"# Cats\n\nCats are small domesticated felines. They purr and hunt mice at night.", {"topic": "animals", "year": 2021}),
    "rockets.txt": (b"Rockets burn liquid hydrogen and oxygen to climb into orbit around the Earth.", {"topic": "space", "year": 2023}),
    "bread.html": (
        b"<html><body><h1>Baking</h1><script>track()</script><p>Sourdough bread needs flour, water, salt and a starter.</p></body></html>",
        {"topic": "food", "year": 2024},
    ),
    "weather.json": (json.dumps({"city": "Oslo", "forecast": "heavy snow and freezing temperatures"}).encode(), {"topic": "weather", "year": 2024}),
    "tides.pdf": (pdf_with_text(["The gravity of the moon pulls the oceans", "and causes the tides twice a day."]), {"topic": "space", "year": 2022}),
}


def test_every_builtin_provider_is_in_the_local_distribution(stack):
    configured = {p.provider_type for p in stack.config.service("vector_io").providers}
    assert set(PROVIDERS) == {p.provider_type for p in providers.BUILTIN} <= configured


@dataclass
class Corpus:
    store_id: str
    files: dict[str, str]  # filename -> file id


@pytest.fixture(scope="module")
def uploaded(client) -> dict[str, str]:
    return {name: client.files.create(file=(name, io.BytesIO(data)), purpose="assistants").id for name, (data, _) in DOCUMENTS.items()}


@pytest.fixture(scope="module", params=list(PROVIDERS.values()))
def corpus(request, client, uploaded) -> Corpus:
    store = client.vector_stores.create(name=f"corpus on {request.param}", extra_body={"provider_id": request.param})
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, files=[{"file_id": uploaded[name], "attributes": attrs} for name, (_, attrs) in DOCUMENTS.items()]
    )
    assert batch.status == "completed", batch
    assert batch.file_counts.completed == len(DOCUMENTS)
    return Corpus(store.id, uploaded)


def search(client, corpus: Corpus, query, **kwargs):
    return client.vector_stores.search(corpus.store_id, query=query, **kwargs).data


def filenames(results) -> list[str]:
    return [r.filename for r in results]


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_each_search_mode_finds_the_document(client, corpus, mode):
    results = search(client, corpus, "what does sourdough bread need? flour", extra_body={"search_mode": mode}, max_num_results=3)
    assert filenames(results)[0] == "bread.html"
    top = results[0]
    assert top.file_id == corpus.files["bread.html"]
    assert top.attributes == {"topic": "food", "year": 2024}
    assert "Sourdough bread needs flour" in top.content[0].text and "track()" not in top.content[0].text
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_vector_search_understands_meaning_without_shared_words(client, corpus):
    results = search(client, corpus, "why does the sea level go up and down", max_num_results=2)
    assert filenames(results)[0] == "tides.pdf"


def test_keyword_search_needs_a_shared_word(client, corpus):
    assert filenames(search(client, corpus, "Oslo", extra_body={"search_mode": "keyword"})) == ["weather.json"]
    assert search(client, corpus, "zyzzyva", extra_body={"search_mode": "keyword"}) == []


def test_query_may_be_a_list_of_strings(client, corpus):
    page = client.vector_stores.search(corpus.store_id, query=["felines", "mice"], max_num_results=1)
    assert filenames(page.data) == ["cats.md"]


def test_filters_on_attributes(client, corpus):
    space = {"type": "eq", "key": "topic", "value": "space"}
    assert set(filenames(search(client, corpus, "anything", filters=space))) == {"rockets.txt", "tides.pdf"}
    recent_space = {"type": "and", "filters": [space, {"type": "gte", "key": "year", "value": 2023}]}
    assert filenames(search(client, corpus, "anything", filters=recent_space)) == ["rockets.txt"]
    not_food = {"type": "ne", "key": "topic", "value": "food"}
    hits = search(client, corpus, "bread", filters=not_food, extra_body={"search_mode": "hybrid"})
    assert "bread.html" not in filenames(hits) and hits


def test_filters_as_large_as_allowed_work_on_every_provider(client, corpus):
    """A long `in` list is one parameter and a wide `or` a balanced tree: neither hits SQLite's
    expression depth of 1,000 nor Postgres' 65,535 parameters."""
    listed = {"type": "in", "key": "topic", "value": [f"t{i}" for i in range(MAX_LIST_VALUES - 1)] + ["food"]}
    assert filenames(search(client, corpus, "bread", filters=listed)) == ["bread.html"]
    unlisted = {"type": "nin", "key": "year", "value": [*range(3000, 3000 + MAX_LIST_VALUES - 1), 2021]}
    assert "cats.md" not in filenames(search(client, corpus, "cats", filters=unlisted, max_num_results=5))
    wide = {"type": "or", "filters": [{"type": "eq", "key": "year", "value": 3000 + i} for i in range(MAX_COMPARISONS - 1)]}
    wide["filters"].append({"type": "eq", "key": "topic", "value": "weather"})
    for mode in ("vector", "keyword", "hybrid"):
        assert filenames(search(client, corpus, "snow", filters=wide, extra_body={"search_mode": mode})) == ["weather.json"]


@pytest.mark.parametrize(
    "filters, param",
    [
        ({"type": "eq", "key": "topic\u0000", "value": "food"}, "filters.key"),
        ({"type": "eq", "key": "topic", "value": "fo\u0000od"}, "filters.value"),
        ({"type": "lt", "key": "topic", "value": "\u001b[0m"}, "filters.value"),
        ({"type": "in", "key": "topic", "value": ["food", "space\u0000"]}, "filters.value[1]"),
        ({"type": "or", "filters": [{"type": "eq", "key": "a", "value": 1}, {"type": "ne", "key": "b\u0007", "value": 1}]}, "filters.filters[1].key"),
        # Three parameters a comparison: 30,000 of them were past Postgres' 65,535.
        ({"type": "or", "filters": [{"type": "gt", "key": "year", "value": i} for i in range(30_000)]}, "filters"),
        ({"type": "in", "key": "topic", "value": list(range(MAX_LIST_VALUES + 1))}, "filters.value"),
    ],
    ids=["nul-key", "nul-value", "escape-value", "nul-in-list", "bell-in-nested-key", "too-many-comparisons", "too-long-list"],
)
def test_bad_filters_are_400_on_every_provider(stack, corpus, filters, param):
    response = httpx.post(f"{stack.gateway_url}/v1/vector_stores/{corpus.store_id}/search", json={"query": "x", "filters": filters}, timeout=60)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_filter_values_keep_tabs_and_line_breaks(client, corpus):
    assert search(client, corpus, "x", filters={"type": "eq", "key": "topic", "value": "a\tb\r\nc"}) == []


def test_ranking_options_threshold_and_weighted_ranker(client, corpus):
    everything = search(client, corpus, "bread flour", max_num_results=5)
    assert len(everything) == 5
    strict = search(client, corpus, "bread flour", max_num_results=5, ranking_options={"score_threshold": everything[0].score - 1e-6})
    assert filenames(strict) == filenames(everything)[:1]
    weighted = search(
        client, corpus, "bread flour", extra_body={"search_mode": "hybrid", "ranking_options": {"ranker": "weighted", "alpha": 0.0}}
    )
    # alpha 0: keyword scores only, and only the bread page shares the words.
    assert filenames(weighted)[0] == "bread.html" and all(r.score == 0 for r in weighted[1:])


def test_store_reports_counts_usage_and_status(client, corpus):
    store = client.vector_stores.retrieve(corpus.store_id)
    assert store.status == "completed"
    assert store.file_counts.completed == store.file_counts.total == len(DOCUMENTS)
    assert store.usage_bytes > 0


def test_file_content_is_the_parsed_text_in_chunks(client, corpus):
    content = client.vector_stores.files.content(file_id=corpus.files["cats.md"], vector_store_id=corpus.store_id)
    text = "".join(part.text for part in content.data)
    assert "Cats are small domesticated felines" in text and "#" not in text


def test_files_list_and_attribute_updates(client, corpus):
    attached = client.vector_stores.files.list(vector_store_id=corpus.store_id, limit=100)
    assert {f.id for f in attached} == set(corpus.files.values())
    assert all(f.status == "completed" and f.chunking_strategy.type == "static" for f in attached)
    cats = corpus.files["cats.md"]
    updated = client.vector_stores.files.update(file_id=cats, vector_store_id=corpus.store_id, attributes={"topic": "pets", "year": 2021})
    assert updated.attributes == {"topic": "pets", "year": 2021}
    pets = {"type": "eq", "key": "topic", "value": "pets"}
    assert filenames(search(client, corpus, "anything", filters=pets)) == ["cats.md"]
    client.vector_stores.files.update(file_id=cats, vector_store_id=corpus.store_id, attributes=DOCUMENTS["cats.md"][1])


def test_attach_poll_detach_one_file(client):
    file = client.files.create(file=("solo.txt", io.BytesIO(b"A lighthouse guides ships along the rocky coast.")), purpose="assistants")
    store = client.vector_stores.create(name="solo")
    attached = client.vector_stores.files.create_and_poll(
        vector_store_id=store.id,
        file_id=file.id,
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}},
    )
    assert attached.status == "completed" and attached.last_error is None
    assert attached.chunking_strategy.static.max_chunk_size_tokens == 100
    assert filenames(client.vector_stores.search(store.id, query="lighthouse").data) == ["solo.txt"]
    deleted = client.vector_stores.files.delete(file_id=file.id, vector_store_id=store.id)
    assert deleted.deleted is True and deleted.object == "vector_store.file.deleted"
    assert client.vector_stores.search(store.id, query="lighthouse").data == []
    assert client.files.retrieve(file.id).id == file.id


def test_attaching_a_small_file_answers_with_the_finished_ingestion(client):
    """Llama Stack clients assert `completed` on the create response itself, without polling."""
    store = client.vector_stores.create(name="attach waits")
    file = client.files.create(file=("owl.txt", io.BytesIO(b"Owls hunt at night and sleep by day.")), purpose="assistants")
    attached = client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
    assert attached.status == "completed" and attached.last_error is None
    assert attached.usage_bytes > 0
    assert filenames(client.vector_stores.search(store.id, query="owls").data) == ["owl.txt"]
    image = client.files.create(file=("owl.png", io.BytesIO(b"\x89PNG\r\n\x1a\n....")), purpose="assistants")
    failed = client.vector_stores.files.create(vector_store_id=store.id, file_id=image.id)
    assert failed.status == "failed" and failed.last_error.code == "unsupported_file"
    ids = [client.files.create(file=(f"o{i}.txt", io.BytesIO(f"owl fact {i}".encode())), purpose="assistants").id for i in range(2)]
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=ids)
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.in_progress, batch.file_counts.total) == (2, 0, 2)


def test_attaching_a_large_file_answers_in_progress_within_the_grpc_deadline(client, stack):
    """The wait for ingestion ends before the caller's deadline instead of running into it."""
    store = client.vector_stores.create(name="deadline")
    # 50 chunks: seconds of embedding here, still more than the 0.5 s left to wait on a fast box.
    text = " ".join(f"word{i}" for i in range(5_000))
    big = client.files.create(file=("big.txt", io.BytesIO(text.encode())), purpose="assistants")
    request = pb.CreateVectorStoreFileRequest(vector_store_id=store.id, file_id=big.id)
    request.chunking_strategy.type = "static"
    request.chunking_strategy.static.max_chunk_size_tokens = 100
    request.chunking_strategy.static.chunk_overlap_tokens = 0
    with grpc.insecure_channel(stack.service_address("vector_io")) as channel:
        # Waiting past the deadline would raise DEADLINE_EXCEEDED.
        attached = pb_grpc.VectorStoresServiceStub(channel).CreateVectorStoreFile(request, timeout=1.0)
    assert attached.status == "in_progress"
    # Finished here, so its ingestion does not slow the tests after this one.
    assert client.vector_stores.files.poll(big.id, vector_store_id=store.id).status == "completed"


def test_deleting_a_file_removes_it_from_its_stores(client):
    file = client.files.create(file=("gone.txt", io.BytesIO(b"The volcano erupted with glowing lava.")), purpose="assistants")
    store = client.vector_stores.create(name="with a file", file_ids=[file.id])
    assert store.status == "in_progress" and store.file_counts.in_progress == 1
    client.vector_stores.files.poll(file.id, vector_store_id=store.id)
    client.files.delete(file.id)
    assert client.vector_stores.search(store.id, query="volcano lava").data == []
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0


def test_unreadable_files_fail_and_the_store_stays_usable(client):
    store = client.vector_stores.create(name="mixed")
    good = client.files.create(file=("good.txt", io.BytesIO(b"Penguins live in the southern hemisphere.")), purpose="assistants")
    image = client.files.create(file=("photo.png", io.BytesIO(b"\x89PNG\r\n\x1a\n....")), purpose="assistants")
    broken = client.files.create(file=("broken.pdf", io.BytesIO(b"%PDF-1.7\n1 0 obj <<")), purpose="assistants")
    results = {
        f.id: client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=f.id) for f in (good, image, broken)
    }
    assert results[good.id].status == "completed"
    assert results[image.id].status == "failed" and results[image.id].last_error.code == "unsupported_file"
    assert "'.png'" in results[image.id].last_error.message
    assert results[broken.id].status == "failed" and results[broken.id].last_error.code == "invalid_file"
    assert "PDF" in results[broken.id].last_error.message
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (1, 2, 3)
    assert filenames(client.vector_stores.search(store.id, query="penguins").data) == ["good.txt"]
    failed = client.vector_stores.files.list(vector_store_id=store.id, filter="failed")
    assert {f.id for f in failed} == {image.id, broken.id}


def test_file_batch_lists_its_files(client):
    store = client.vector_stores.create(name="batches")
    ids = [client.files.create(file=(f"b{i}.txt", io.BytesIO(f"batch file {i}".encode())), purpose="assistants").id for i in range(3)]
    batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=ids)
    assert batch.object == "vector_store.file_batch" and batch.status == "completed"
    listed = client.vector_stores.file_batches.list_files(batch_id=batch.id, vector_store_id=store.id)
    assert {f.id for f in listed} == set(ids)


def test_store_crud_and_pagination(client):
    created = [
        client.vector_stores.create(name=f"page {i}", metadata={"i": str(i)}, expires_after={"anchor": "last_active_at", "days": 7})
        for i in range(3)
    ]
    first = created[0]
    assert first.expires_after.days == 7 and first.expires_at == first.last_active_at + 7 * 86400
    assert first.metadata == {"i": "0"} and first.status == "completed"
    page = client.vector_stores.list(limit=2)
    assert [s.id for s in page.data] == [created[2].id, created[1].id] and page.has_more
    after = client.vector_stores.list(limit=1, after=created[1].id)
    assert [s.id for s in after.data] == [created[0].id]
    before = client.vector_stores.list(limit=5, before=created[0].id)
    assert [s.id for s in before.data][-2:] == [created[2].id, created[1].id]
    updated = client.vector_stores.update(first.id, name="renamed", metadata={"k": "v"})
    assert (updated.name, updated.metadata) == ("renamed", {"k": "v"})
    deleted = client.vector_stores.delete(first.id)
    assert deleted.deleted and deleted.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(first.id)


def test_the_creators_identity_owns_the_store(client, stack):
    """The principal a peer (or the authenticating gateway) names owns the store; a caller's
    own claim through the gateway is dropped."""
    with grpc.insecure_channel(stack.service_address("vector_io")) as channel:
        mine = pb_grpc.VectorStoresServiceStub(channel).CreateVectorStore(
            pb.CreateVectorStoreRequest(name="mine"), metadata=(("x-stackmesh-principal", "alice"),), timeout=60
        )
    claimed = client.vector_stores.create(name="claimed", extra_headers={"x-stackmesh-principal": "alice"})
    anyone = client.vector_stores.create(name="anyone")
    with psycopg.connect(stack.config.postgres.url) as conn:
        owners = dict(
            conn.execute(
                "SELECT id, owner FROM vector_io.vector_stores WHERE id = ANY(%s)", ([mine.id, claimed.id, anyone.id],)
            ).fetchall()
        )
    assert owners == {mine.id: "alice", claimed.id: "anonymous", anyone.id: "anonymous"}


def test_llama_stack_create_extensions(client):
    store = client.vector_stores.create(
        name="small", extra_body={"embedding_model": EMBEDDING_MODEL, "embedding_dimension": 128, "provider_id": "sqlite-vec"}
    )
    file = client.files.create(file=("dim.txt", io.BytesIO(b"Truncated embeddings still find glaciers.")), purpose="assistants")
    client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=file.id)
    content = httpx.get(
        f"{client.base_url}vector_stores/{store.id}/files/{file.id}/content", params={"include_embeddings": True}, timeout=30
    ).json()
    assert len(content["data"][0]["embedding"]) == 128
    assert filenames(client.vector_stores.search(store.id, query="glaciers").data) == ["dim.txt"]


@pytest.mark.parametrize("provider_id", list(PROVIDERS.values()))
def test_raw_vector_io_insert_and_query(client, stack, provider_id):
    store = client.vector_stores.create(name="raw", extra_body={"provider_id": provider_id})
    chunks = [
        {"content": "Zebras have black and white stripes.", "metadata": {"document_id": "z", "kind": "animal"}},
        {"content": {"type": "text", "text": "Quartz is a hard mineral."}, "metadata": {"document_id": "q", "kind": "rock"}, "chunk_id": "quartz"},
        {"content": "Precomputed vector chunk.", "metadata": {"document_id": "p"}, "embedding": [0.0] * 383 + [1.0]},
    ]
    inserted = httpx.post(f"{stack.gateway_url}/v1/vector-io/insert", json={"vector_store_id": store.id, "chunks": chunks}, timeout=60)
    assert inserted.status_code == 200, inserted.text
    query = {"vector_store_id": store.id, "query": "striped animals", "params": {"max_chunks": 2, "mode": "hybrid"}}
    answer = httpx.post(f"{stack.gateway_url}/v1/vector-io/query", json=query, timeout=60).json()
    assert answer["chunks"][0]["content"] == "Zebras have black and white stripes."
    assert answer["chunks"][0]["metadata"] == {"document_id": "z", "kind": "animal"}
    assert len(answer["scores"]) == len(answer["chunks"]) == 2
    legacy = {"vector_db_id": store.id, "query": {"type": "text", "text": "mineral"}, "params": {"mode": "keyword", "filters": {"type": "eq", "key": "kind", "value": "rock"}}}
    answer = httpx.post(f"{stack.gateway_url}/v1/vector-io/query", json=legacy, timeout=60).json()
    assert [c["chunk_id"] for c in answer["chunks"]] == ["quartz"]
    assert answer["chunks"][0]["content"] == {"type": "text", "text": "Quartz is a hard mineral."}


# Bad input.


@pytest.fixture(scope="module")
def empty_store(client) -> str:
    return client.vector_stores.create(name="for bad input").id


@pytest.mark.parametrize(
    "body, param",
    [
        ({"query": ""}, "query"),
        ({"query": []}, "query"),
        ({"query": ["ok", " "]}, "query"),
        ({}, "query"),
        ({"query": "x", "max_num_results": 0}, "max_num_results"),
        ({"query": "x", "max_num_results": 51}, "max_num_results"),
        ({"query": "x", "filters": {"type": "eq", "key": "a"}}, "filters"),
        ({"query": "x", "filters": {"type": "between", "key": "a", "value": 1}}, "filters.type"),
        ({"query": "x", "filters": {"type": "and", "filters": [{"type": "gt", "key": "a", "value": [1]}]}}, "filters.filters[0].value"),
        ({"query": "x", "search_mode": "semantic"}, "search_mode"),
        ({"query": "x", "ranking_options": {"ranker": "neural"}}, "ranking_options.ranker"),
        ({"query": "x", "ranking_options": {"score_threshold": 1.5}}, "ranking_options.score_threshold"),
        ({"query": "x", "ranking_options": {"ranker": "weighted", "alpha": -0.1}}, "ranking_options.alpha"),
        ({"query": "x", "rewrite_query": True}, "rewrite_query"),
        ({"query": "hel\u0000lo", "search_mode": "keyword"}, "query"),
        ({"query": ["ok", "hel\u0000lo"], "search_mode": "hybrid"}, "query[1]"),
        ({"query": "x", "filters": {"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "and", "filters": [{"type": "eq", "key": "a", "value": 1}]}]}]}]}]}]}]}]}]}}, "filters.filters[0].filters[0].filters[0].filters[0].filters[0].filters[0].filters[0].filters[0].filters[0]"),
    ],
)
def test_bad_searches_are_400_naming_the_field(stack, empty_store, body, param):
    response = httpx.post(f"{stack.gateway_url}/v1/vector_stores/{empty_store}/search", json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == param and error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/vector_stores/vs_missing"),
        ("POST", "/v1/vector_stores/vs_missing/search"),
        ("DELETE", "/v1/vector_stores/vs_missing"),
        ("GET", "/v1/vector_stores/vs_missing/files"),
        ("GET", "/v1/vector_stores/{store}/files/file-missing"),
        ("DELETE", "/v1/vector_stores/{store}/files/file-missing"),
        ("GET", "/v1/vector_stores/{store}/files/file-missing/content"),
        ("GET", "/v1/vector_stores/{store}/file_batches/vsfb_missing"),
        ("POST", "/v1/vector_stores/{store}/file_batches/vsfb_missing/cancel"),
    ],
)
def test_unknown_ids_are_404(stack, empty_store, method, path):
    response = httpx.request(method, stack.gateway_url + path.format(store=empty_store), json={"query": "x"}, timeout=30)
    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "not_found"


def test_attaching_unknown_files_is_404(client, empty_store):
    with pytest.raises(openai.NotFoundError) as caught:
        client.vector_stores.files.create(vector_store_id=empty_store, file_id="file-missing")
    assert "file-missing" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.file_batches.create(vector_store_id=empty_store, file_ids=["file-missing"])
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.create(name="x", file_ids=["file-missing"])


@pytest.mark.parametrize(
    "body, param",
    [
        ({"provider_id": "faiss"}, "provider_id"),
        ({"embedding_model": "no-such-model"}, "embedding_model"),
        ({"embedding_model": "SmolLM2-135M-Instruct"}, "embedding_model"),
        ({"embedding_dimension": 4096}, "embedding_dimension"),
        ({"expires_after": {"anchor": "last_active_at", "days": 0}}, "expires_after.days"),
        ({"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 10}}}, "chunking_strategy.static.max_chunk_size_tokens"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k": "v\u0000"}}, "metadata.k"),
        ({"metadata": {"k\u0000": "v"}}, "metadata"),
        ({"name": "docs\u0000"}, "name"),
    ],
)
def test_bad_store_creation_is_400(stack, body, param):
    response = httpx.post(f"{stack.gateway_url}/v1/vector_stores", json={"name": "bad", **body}, timeout=30)
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == param


def test_bad_attachments_are_400(stack, client, empty_store):
    file = client.files.create(file=("a.txt", io.BytesIO(b"a")), purpose="assistants")
    url = f"{stack.gateway_url}/v1/vector_stores/{empty_store}"
    cases = [
        (f"{url}/files", {"file_id": file.id, "attributes": {"nested": {"no": 1}}}, "attributes.nested"),
        (f"{url}/files", {"file_id": file.id, "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150}}}, "chunking_strategy.static.chunk_overlap_tokens"),
        (f"{url}/file_batches", {"file_ids": [file.id], "files": [{"file_id": file.id}]}, "file_ids"),
        (f"{url}/file_batches", {}, "file_ids"),
        (f"{url}/files", {"file_id": file.id, "attributes": {"topic": "a\u0000b"}}, "attributes.topic"),
        (f"{url}/files", {"file_id": file.id, "attributes": {"to\u0000pic": "ab"}}, "attributes"),
        (f"{url}/file_batches", {"file_ids": [file.id], "attributes": {"topic": "\u0001"}}, "attributes.topic"),
        (f"{url}/file_batches", {"files": [{"file_id": file.id, "attributes": {"t": "\u0000"}}]}, "files[0].attributes.t"),
        (f"{url}/files/{file.id}", {"attributes": {"topic": "a\u0000b"}}, "attributes.topic"),
    ]
    for path, body, param in cases:
        response = httpx.post(path, json=body, timeout=30)
        assert response.status_code == 400, (body, response.text)
        assert error_of(response)["param"] == param


def test_contextual_chunking_needs_a_model_and_is_not_supported_yet(stack, client, empty_store):
    file = client.files.create(file=("c.txt", io.BytesIO(b"c")), purpose="assistants")
    url = f"{stack.gateway_url}/v1/vector_stores/{empty_store}"
    no_model = {"type": "contextual", "contextual": {"max_chunk_size_tokens": 700, "chunk_overlap_tokens": 400}}
    with_model = {"type": "contextual", "contextual": {"model_id": "SmolLM2-135M-Instruct"}}
    model_required = "`{}` is required: contextual chunking needs a model to situate each chunk"
    cases = [
        (f"{url}/files", {"file_id": file.id, "chunking_strategy": no_model}, "chunking_strategy.contextual.model_id"),
        (f"{url}/files", {"file_id": file.id, "chunking_strategy": {"type": "contextual"}}, "chunking_strategy.contextual.model_id"),
        (f"{url}/file_batches", {"files": [{"file_id": file.id, "chunking_strategy": no_model}]}, "files[0].chunking_strategy.contextual.model_id"),
        (f"{stack.gateway_url}/v1/vector_stores", {"chunking_strategy": no_model}, "chunking_strategy.contextual.model_id"),
    ]
    for path, body, param in cases:
        response = httpx.post(path, json=body, timeout=30)
        assert response.status_code == 400, (body, response.text)
        error = error_of(response)
        assert (error["param"], error["type"], error["message"]) == (param, "invalid_request_error", model_required.format(param))
    response = httpx.post(f"{url}/files", json={"file_id": file.id, "chunking_strategy": with_model}, timeout=30)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == "chunking_strategy.type"
    assert error["message"] == (
        "the `contextual` chunking strategy is not supported yet (model `SmolLM2-135M-Instruct`); use `auto` or `static`"
    )


def test_bad_raw_vector_io_is_400(stack, empty_store):
    cases = [
        ({"vector_store_id": empty_store, "chunks": []}, "chunks"),
        ({"vector_store_id": empty_store, "chunks": [{"content": ""}]}, "chunks[0].content"),
        ({"vector_store_id": empty_store, "chunks": [{"content": "x", "embedding": [1.0, 2.0]}]}, "chunks[0].embedding"),
        ({"vector_store_id": empty_store, "chunks": [{"content": {"type": "image", "image": {"url": "http://x"}}}]}, "chunks[0].content"),
        ({"vector_store_id": empty_store, "chunks": [{"content": "a\u0000b"}]}, "chunks[0].content"),
        ({"vector_store_id": empty_store, "chunks": [{"content": "ok", "metadata": {"document_id": "d", "n": ["\u0000"]}}]}, "chunks[0].metadata.n[0]"),
    ]
    for body, param in cases:
        response = httpx.post(f"{stack.gateway_url}/v1/vector-io/insert", json=body, timeout=30)
        assert response.status_code == 400, response.text
        assert error_of(response)["param"] == param
    response = httpx.post(
        f"{stack.gateway_url}/v1/vector-io/query", json={"vector_store_id": empty_store, "query": "x", "params": {"max_chunks": 0}}, timeout=30
    )
    assert response.status_code == 400 and error_of(response)["param"] == "params.max_chunks"
    response = httpx.post(f"{stack.gateway_url}/v1/vector-io/query", json={"vector_store_id": "vs_missing", "query": "x"}, timeout=30)
    assert response.status_code == 404
