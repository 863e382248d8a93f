"""A service that dies or drains: the gateway answers promptly and streams never end silently."""

from __future__ import annotations

import signal
import time
from typing import Iterator

import httpx
import openai
import pytest

from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, start_local_stack

LONG = [{"role": "user", "content": "Write a very long story about a dragon and a knight."}]


@pytest.fixture
def own_stack(tmp_path) -> Iterator[LocalStack]:
    """A stack of the test's own: these tests kill its inference service."""
    stack = start_local_stack(tmp_path)
    yield stack
    stack.stop()


def sdk(stack: LocalStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=60)


def test_drain_mid_stream_raises_in_the_sdk_then_dead_service_is_503(own_stack):
    """SIGTERM mid-stream: an in-band error event makes the SDK raise (no silent truncation);
    afterwards the gateway answers 503 at once instead of hanging."""
    stream = sdk(own_stack).chat.completions.create(model=CHAT_MODEL, messages=LONG, max_tokens=1500, stream=True)
    received = 0
    with pytest.raises(openai.APIError, match="shutting down"):
        for chunk in stream:
            received += 1
            if received == 3:
                own_stack.stop_component("inference", signal.SIGTERM)
    assert received >= 3

    deadline = time.monotonic() + 30
    while True:  # the service exits after draining
        started = time.perf_counter()
        response = httpx.post(
            f"{own_stack.gateway_url}/v1/chat/completions", json={"model": CHAT_MODEL, "messages": LONG}, timeout=30
        )
        elapsed = time.perf_counter() - started
        if response.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 503
    assert elapsed < 2.0
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and "inference" in error["message"]


def test_killed_service_mid_stream_is_an_error_not_a_clean_end(own_stack):
    """SIGKILL leaves no chance to send an error event; the client still sees a failure."""
    stream = sdk(own_stack).chat.completions.create(model=CHAT_MODEL, messages=LONG, max_tokens=1500, stream=True)
    received = 0
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for _ in stream:
            received += 1
            if received == 3:
                own_stack.stop_component("inference", signal.SIGKILL)
    assert received >= 3
