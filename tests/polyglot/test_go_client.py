"""A Go client, built offline from Debian packages and stubs generated from protos/, calls the stack."""

from __future__ import annotations

import pytest

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL, REPO
from tests.polyglot.clients import assert_usage, build, report

BUILD_SCRIPT = REPO / "clients" / "go" / "build.sh"
BINARY = REPO / "build" / "go" / "bin" / "stackmesh-go-client"


@pytest.fixture(scope="module")
def go_client() -> str:
    # build.sh always regenerates the stubs from the current protos; Go's build cache keeps
    # that fast when nothing changed.
    build(BUILD_SCRIPT, timeout_s=600)
    return str(BINARY)


@pytest.fixture(scope="module")
def go_report(go_client, stack) -> dict:
    command = [
        go_client,
        "-inference", stack.service_address("inference"),
        "-vector-io", stack.service_address("vector_io"),
        "-chat-model", CHAT_MODEL,
        "-embedding-model", EMBEDDING_MODEL,
    ]  # fmt: skip
    return report(command, "Go")


def test_lists_models(go_report):
    assert {CHAT_MODEL, EMBEDDING_MODEL} <= set(go_report["models"])


def test_chat_completion_with_typed_messages(go_report):
    chat = go_report["chat"]
    assert chat["content"].strip()
    assert chat["finish_reason"] in ("stop", "length")
    assert_usage(chat["usage"], max_completion_tokens=8)


def test_streamed_chat_completion(go_report):
    stream = go_report["stream"]
    assert stream["chunks"] > 1
    assert stream["text"].strip()
    assert stream["finish_reason"] in ("stop", "length")
    # stream_options.include_usage: the final chunk carries the usage of the whole request.
    assert_usage(stream["usage"], max_completion_tokens=8)


def test_uploaded_file_is_found_by_filtered_search(go_report):
    search = go_report["search"]
    assert search["file_id"].startswith("file-")
    assert search["vector_store_id"]
    assert search["file_status"] == "completed"
    assert search["hits"] >= 1
    assert search["top_file_id"] == search["file_id"]
    assert search["top_filename"] == "stackmesh-go-client.txt"
    assert search["top_score"] > 0
    assert "lighthouse keeper feeds seven grey cats" in search["top_text"]
    assert search["top_source"] == "go-client"


def test_unknown_model_error_details(go_report):
    error = go_report["unknown_model"]
    assert error["code"] == "NotFound"
    assert "no-such-model" in error["message"]
    assert error["domain"] == "stackmesh"
    assert error["reason"] == "model_not_found"
    assert error["param"] == "model"
