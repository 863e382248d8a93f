"""Ingestion within its limits (services.vector_io.settings.ingestion, at their defaults here): a
file over one fails OpenAI-style, `status: failed` with a `last_error` naming the limit."""

from __future__ import annotations

import io

import pytest

from stackmesh_vector_io.settings import IngestionSettings

LIMITS = IngestionSettings()


@pytest.fixture(scope="module")
def store_id(client) -> str:
    return client.vector_stores.create(name="limits").id


def attach(client, store_id: str, name: str, data: bytes, **kwargs):
    file = client.files.create(file=(name, io.BytesIO(data)), purpose="assistants")
    return client.vector_stores.files.create_and_poll(vector_store_id=store_id, file_id=file.id, **kwargs)


def assert_failed_naming(attached, setting: str, limit: int) -> None:
    assert attached.status == "failed", attached
    assert attached.last_error.code == "invalid_file"
    assert setting in attached.last_error.message and str(limit) in attached.last_error.message


def test_a_file_over_max_file_bytes_fails_naming_the_limit(client, store_id):
    attached = attach(client, store_id, "huge.txt", b"a" * (LIMITS.max_file_bytes + 1))
    assert_failed_naming(attached, "max_file_bytes", LIMITS.max_file_bytes)


def test_text_over_max_text_chars_fails_while_it_is_read(client, store_id):
    attached = attach(client, store_id, "long.txt", b"word " * (LIMITS.max_text_chars // 5 + 1))
    assert_failed_naming(attached, "max_text_chars", LIMITS.max_text_chars)


def test_a_file_cut_into_more_than_max_chunks_fails_before_embedding(client, store_id):
    # Windows of 100 tokens every 50: 50 tokens a chunk.
    tokens = 50 * LIMITS.max_chunks + 100
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}
    attached = attach(client, store_id, "many.txt", b"w " * tokens, chunking_strategy=strategy)
    assert_failed_naming(attached, "max_chunks", LIMITS.max_chunks)


def test_nul_characters_in_a_text_file_are_dropped_not_fatal(client, store_id):
    """Postgres cannot store NUL: such a file failed five deliveries with a server_error."""
    attached = attach(client, store_id, "nul.txt", b"Walruses\x00 haul out on sea ice.")
    assert attached.status == "completed" and attached.last_error is None
    hits = client.vector_stores.search(store_id, query="walruses", extra_body={"search_mode": "keyword"}).data
    assert [h.content[0].text for h in hits] == ["Walruses haul out on sea ice."]
