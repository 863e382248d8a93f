"""The contracts from Node: clients/node/scenario.js (@grpc/grpc-js, protos loaded at runtime)
calls the real stack and reports what it got back as JSON."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL, REPO
from tests.polyglot.clients import assert_usage, build, report

NODE_CLIENT = REPO / "clients" / "node"


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    assert node, "node (20 or newer) is not on PATH"
    build(NODE_CLIENT / "setup.sh", timeout_s=300)
    return node


@pytest.fixture(scope="module")
def scenario(node, stack) -> dict:
    command = [
        node,
        str(NODE_CLIENT / "scenario.js"),
        "--inference", stack.service_address("inference"),
        "--vector-io", stack.service_address("vector_io"),
        "--chat-model", CHAT_MODEL,
        "--embedding-model", EMBEDDING_MODEL,
    ]  # fmt: skip
    return report(command, "Node")


def test_lists_models(scenario):
    assert {CHAT_MODEL, EMBEDDING_MODEL} <= set(scenario["models"])


def test_chat_completion(scenario):
    chat = scenario["chat"]
    assert chat["content"].strip()
    assert chat["finish_reason"] in ("stop", "length")
    assert_usage(chat["usage"], max_completion_tokens=8)


def test_streamed_chat_completion(scenario):
    stream = scenario["stream"]
    assert stream["chunks"] > 1
    assert stream["text"].strip()
    assert stream["finish_reason"] in ("stop", "length")
    # temperature 0: the stream generates what the unary call did.
    assert stream["text"] == scenario["chat"]["content"]


def test_vector_store_search_finds_the_uploaded_file(scenario):
    store = scenario["vector_store"]
    assert store["vector_store_id"].startswith("vs_")
    assert store["file_status"] == "completed"
    top = store["top_hit"]
    assert top["file_id"] == store["file_id"]
    assert top["filename"] == store["filename"] == "node-client-note.txt"
    assert top["text"].strip() == store["uploaded_text"].strip()
    assert 0 < top["score"] <= 1


def test_unknown_model_is_not_found_with_error_info(scenario):
    error = scenario["unknown_model"]
    assert error["code"] == "NOT_FOUND"
    assert "no-such-model" in error["details"]
    assert error["reason"] == "model_not_found"
    assert error["param"] == "model"
