"""A Java client, built offline from Debian's grpc-java and stubs generated from protos/, calls the stack."""

from __future__ import annotations

import pytest

from tests.conftest import CHAT_MODEL, REPO
from tests.polyglot.clients import assert_usage, build, report

BUILD_SCRIPT = REPO / "clients" / "java" / "build.sh"
LAUNCHER = REPO / "build" / "java" / "run.sh"


@pytest.fixture(scope="module")
def java_client() -> str:
    # build.sh regenerates and recompiles only when a .proto, the client source or a package
    # changed (about a minute for javac).
    build(BUILD_SCRIPT, timeout_s=900)
    return str(LAUNCHER)


@pytest.fixture(scope="module")
def java_report(java_client, stack) -> dict:
    return report([java_client, "--inference", stack.service_address("inference"), "--chat-model", CHAT_MODEL], "Java")


def test_lists_models(java_report):
    assert CHAT_MODEL in java_report["models"]


def test_chat_completion_with_typed_messages(java_report):
    chat = java_report["chat"]
    assert chat["id"]
    assert chat["content"].strip()
    assert chat["finish_reason"] in ("stop", "length")
    assert_usage(chat["usage"], max_completion_tokens=8)


def test_streamed_chat_completion(java_report):
    stream = java_report["stream"]
    assert stream["chunks"] > 1
    assert stream["text"].strip()
    assert stream["finish_reason"] in ("stop", "length")
    # stream_options.include_usage: the final chunk carries the usage of the whole request.
    assert_usage(stream["usage"], max_completion_tokens=8)


def test_unknown_model_error_details(java_report):
    error = java_report["unknown_model"]
    assert error["code"] == "NOT_FOUND"
    assert "no-such-model" in error["message"]
    assert error["domain"] == "stackmesh"
    assert error["reason"] == "model_not_found"
    assert error["param"] == "model"


def test_report_has_no_unexpected_fields(java_report):
    # Every field the client prints is asserted above; a new one needs a test too.
    assert set(java_report) == {"models", "chat", "stream", "unknown_model"}
    assert set(java_report["chat"]) == {"id", "content", "finish_reason", "usage"}
    assert set(java_report["stream"]) == {"chunks", "text", "finish_reason", "usage"}
    assert set(java_report["unknown_model"]) == {"code", "message", "domain", "reason", "param"}
