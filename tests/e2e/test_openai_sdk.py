"""The unmodified openai SDK against the gateway: models, chat, completions, embeddings."""

from __future__ import annotations

import base64
import json
import math
import struct
import threading
import time

import httpx
import openai
import pytest

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]


def test_models_list_has_both_default_models(client):
    models = {m.id: m for m in client.models.list()}
    assert {CHAT_MODEL, EMBEDDING_MODEL} <= set(models)
    assert models[CHAT_MODEL].object == "model"
    assert models[CHAT_MODEL].owned_by == "llama-cpp"
    assert models[EMBEDDING_MODEL].model_extra["model_type"] == "embedding"


def test_models_retrieve_by_alias(client):
    model = client.models.retrieve("llama-cpp/SmolLM2-135M-Instruct")
    assert model.id == CHAT_MODEL


def test_chat_completion(client):
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=16, temperature=0)
    choice = completion.choices[0]
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl")
    assert completion.model == CHAT_MODEL
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    usage = completion.usage
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 16
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_completion_streaming(client):
    stream = client.chat.completions.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert all(c.object == "chat.completion.chunk" and c.model == CHAT_MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals in (["stop"], ["length"])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_streaming_and_non_streaming_agree_at_temperature_zero(client):
    """Same path, stream or not: both run the same model with the same sampling."""
    full = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=12, temperature=0, seed=7)
    streamed = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=12, temperature=0, seed=7, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == full.choices[0].message.content


def test_sse_wire_format_ends_with_done(stack):
    body = {"model": CHAT_MODEL, "messages": HELLO, "max_tokens": 4, "stream": True}
    with httpx.stream("POST", f"{stack.gateway_url}/v1/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0].removeprefix("data: "))["object"] == "chat.completion.chunk"


def test_stream_false_and_nested_stream_text_are_not_streamed(stack):
    """Only a top-level `"stream": true` selects SSE, not the words inside a message."""
    messages = [{"role": "user", "content": 'reply to {"stream": true}'}]
    for body in (
        {"model": CHAT_MODEL, "messages": messages, "max_tokens": 2, "stream": False},
        {"model": CHAT_MODEL, "messages": messages, "max_tokens": 2, "metadata": {"stream": "true"}},
    ):
        response = httpx.post(f"{stack.gateway_url}/v1/chat/completions", json=body, timeout=60)
        assert response.status_code == 200
        assert response.json()["object"] == "chat.completion"


def test_legacy_openai_prefix_serves_the_same_api(stack):
    response = httpx.get(f"{stack.gateway_url}/v1/openai/v1/models", timeout=30)
    assert response.status_code == 200
    assert CHAT_MODEL in [m["id"] for m in response.json()["data"]]


def test_completion(client):
    completion = client.completions.create(model=CHAT_MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert completion.object == "text_completion"
    assert completion.choices[0].text
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens > 0


def test_completion_streaming(client):
    chunks = list(client.completions.create(model=CHAT_MODEL, prompt="Once upon a time", max_tokens=8, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices).strip()
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_embeddings_float(client):
    response = client.embeddings.create(model=EMBEDDING_MODEL, input=["a cat sat on the mat", "stock markets fell"])
    assert [d.index for d in response.data] == [0, 1]
    vectors = [d.embedding for d in response.data]
    assert all(len(v) == 384 for v in vectors)
    assert math.isclose(math.sqrt(sum(x * x for x in vectors[0])), 1.0, rel_tol=1e-3)  # MiniLM normalises
    assert vectors[0] != vectors[1]
    assert response.usage.prompt_tokens > 0


def test_embeddings_base64_matches_float(client, stack):
    floats = client.embeddings.create(model=EMBEDDING_MODEL, input="hello world").data[0].embedding
    # The SDK decodes base64 itself when it asked for it; check the raw wire value too.
    raw = httpx.post(
        f"{stack.gateway_url}/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": "hello world", "encoding_format": "base64"}, timeout=60
    ).json()
    decoded = struct.unpack("<384f", base64.b64decode(raw["data"][0]["embedding"]))
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, floats))
    sdk = client.embeddings.create(model=EMBEDDING_MODEL, input="hello world", encoding_format="base64").data[0].embedding
    assert isinstance(sdk, str) and base64.b64decode(sdk) == base64.b64decode(raw["data"][0]["embedding"])


def test_concurrent_streams_run_in_parallel_slots(client):
    """Four streams overlap in time (llama.cpp slots), rather than running one after another."""
    spans: list[tuple[float, float]] = []

    def run() -> None:
        stream = client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "Count from one to fifty."}], max_tokens=48, temperature=0, stream=True
        )
        first = last = None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter()
                last = time.perf_counter()
        spans.append((first, last))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(spans) == 4
    # Queued requests would start only after the previous one ended.
    latest_start = max(start for start, _ in spans)
    earliest_end = min(end for _, end in spans)
    assert latest_start < earliest_end, spans


def test_stored_chat_completions(client, stack):
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=4, metadata={"test": "stored"})
    deadline = time.monotonic() + 10
    while True:  # written off the hot path
        response = httpx.get(f"{stack.gateway_url}/v1/chat/completions/{completion.id}", timeout=30)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200
    stored = response.json()
    assert stored["choices"][0]["message"]["content"] == completion.choices[0].message.content
    assert stored["input_messages"] == HELLO
    assert stored["metadata"] == {"test": "stored"}
    listed = httpx.get(f"{stack.gateway_url}/v1/chat/completions", params={"limit": 1, "model": CHAT_MODEL}, timeout=30).json()
    assert listed["object"] == "list" and len(listed["data"]) == 1
    messages = httpx.get(f"{stack.gateway_url}/v1/chat/completions/{completion.id}/messages", timeout=30).json()
    assert [m["content"] for m in messages["data"]] == [HELLO[0]["content"]]


def test_register_use_and_unregister_a_model(client, stack):
    url = f"{stack.gateway_url}/v1/models"
    created = httpx.post(
        url,
        json={"model_id": "smol-tmp", "provider_id": "llama-cpp", "provider_model_id": "smollm2-135m-instruct-q4_1", "model_type": "llm"},
        timeout=60,
    )
    assert created.status_code == 200, created.text
    assert created.json()["provider_id"] == "llama-cpp"
    assert client.chat.completions.create(model="smol-tmp", messages=HELLO, max_tokens=2).model == "smol-tmp"
    assert "smol-tmp" in [m.id for m in client.models.list()]
    deleted = httpx.delete(f"{url}/smol-tmp", timeout=30)
    assert deleted.json() == {"id": "smol-tmp", "object": "model", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("smol-tmp")
