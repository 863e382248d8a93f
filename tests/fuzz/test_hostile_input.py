"""Hand-picked hostile requests, each answered with a 4xx in OpenAI's envelope, never a 5xx:
oversized and deeply nested bodies, integers past int32 and int64, invalid UTF-8, path tricks
in ids, wrong content types. The stack serves on afterwards."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL
from tests.fuzz.outcomes import envelope_problem
from tests.fuzz.stack_checks import restarts, serving_problems

USER = [{"role": "user", "content": "hi"}]
DEPTH = 10_000
JSON = {"content-type": "application/json"}


def nested_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# (method, path, httpx keyword arguments); bodies are bytes so nothing re-encodes them.
BODIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "deep-content": ("POST", "/v1/chat/completions", {"content": f'{{"model":"{CHAT_MODEL}","messages":[{{"role":"user","content":{nested_array(DEPTH)}}}]}}'.encode(), "headers": JSON}),
    "deep-metadata": ("POST", "/v1/chat/completions", {"content": f'{{"model":"{CHAT_MODEL}","messages":[],"metadata":{nested_object(DEPTH)}}}'.encode(), "headers": JSON}),
    "deep-typed-messages": ("POST", "/v1/chat/completions", {"content": f'{{"model":"{CHAT_MODEL}","messages":{nested_array(DEPTH)}}}'.encode(), "headers": JSON}),
    "deep-store-metadata": ("POST", "/v1/vector_stores", {"content": f'{{"name":"deep","metadata":{nested_object(DEPTH)}}}'.encode(), "headers": JSON}),
    "deep-response-input": ("POST", "/v1/responses", {"content": f'{{"model":"{CHAT_MODEL}","input":{nested_array(DEPTH)}}}'.encode(), "headers": JSON}),
    "deep-rows": ("POST", "/v1beta/datasetio/append-rows/nope", {"content": f'{{"rows":[{nested_object(DEPTH)}]}}'.encode(), "headers": JSON}),
    "deep-body": ("POST", "/v1/embeddings", {"content": nested_array(DEPTH).encode(), "headers": JSON}),
    "utf8-chat": ("POST", "/v1/chat/completions", {"content": f'{{"model":"{CHAT_MODEL}","messages":[{{"role":"user","content":"'.encode() + b'\xff\xfe\xc0\x80"}]}', "headers": JSON}),
    "utf8-key": ("POST", "/v1/vector_stores", {"content": b'{"name":"x","metadata":{"\xed\xa0\x80":"v"}}', "headers": JSON}),
    "utf8-model": ("POST", "/v1/embeddings", {"content": b'{"model":"\xc3\x28","input":"x"}', "headers": JSON}),
    "latin1-charset": ("POST", "/v1/conversations", {"content": '{"metadata":{"k":"café"}}'.encode("latin-1"), "headers": {"content-type": "application/json; charset=latin-1"}}),
    "text-plain": ("POST", "/v1/chat/completions", {"content": b'{"model":"no-such-model","messages":[]}', "headers": {"content-type": "text/plain"}}),
    "form-urlencoded": ("POST", "/v1/chat/completions", {"content": b"model=x&messages=y", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
    "multipart-to-json": ("POST", "/v1/embeddings", {"files": {"file": ("a.txt", b"hi")}}),
    "json-to-upload": ("POST", "/v1/files", {"content": b'{"purpose":"assistants"}', "headers": JSON}),
    "xml": ("POST", "/v1/moderations", {"content": b"<input>hi</input>", "headers": {"content-type": "application/xml"}}),
    "garbage-no-type": ("POST", "/v1/vector_stores", {"content": b"\x00\x01\x02\xff garbage"}),
    "empty-multipart": ("POST", "/v1/files", {"content": b"", "headers": {"content-type": "multipart/form-data; boundary=x"}}),
    "multipart-no-boundary": ("POST", "/v1/files", {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}}),
}
for field in ("n", "max_tokens", "max_completion_tokens"):
    for value in (2**31, 2**63, 2**31 - 1, -(2**63)):
        BODIES[f"chat-{field}={value}"] = ("POST", "/v1/chat/completions", {"json": {"model": CHAT_MODEL, "messages": USER, field: value}})
for value in (2**31, 2**63, 2**31 - 1):
    BODIES[f"completion-max_tokens={value}"] = ("POST", "/v1/completions", {"json": {"model": CHAT_MODEL, "prompt": "hi", "max_tokens": value}})
    BODIES[f"response-max_output_tokens={value}"] = ("POST", "/v1/responses", {"json": {"model": CHAT_MODEL, "input": "hi", "max_output_tokens": value}})
    BODIES[f"embedding-dimensions={value}"] = ("POST", "/v1/embeddings", {"json": {"model": EMBEDDING_MODEL, "input": "hi", "dimensions": value}})
    if value != 2**31 - 1:  # a valid int32: served as the largest page
        BODIES[f"list-limit={value}"] = ("GET", f"/v1/files?limit={value}", {})

# Ids that try to leave their path segment, end a C string, or overflow a header.
IDS = {
    "dot-dot-slash": "..%2F..%2Fetc%2Fpasswd",
    "dot-dot-encoded": "%2e%2e",
    "nul": "%00",
    "nul-suffix": "file-1%00.txt",
    "long-20k": "a" * 20_000,
    "long-60k": "a" * 60_000,
    "emoji": "%F0%9F%98%80" * 3_000,
    "invalid-utf8": "%FF%FE",
    "lone-surrogate": "%ED%A0%80",
    "unicode": "%E6%96%87%E4%BB%B6",
}
ROUTES = [
    ("GET", "/v1/files/{}"),
    ("DELETE", "/v1/files/{}"),
    ("GET", "/v1/files/{}/content"),
    ("GET", "/v1/models/{}"),
    ("GET", "/v1/vector_stores/{}/files"),
    ("GET", "/v1/responses/{}"),
    ("GET", "/v1/responses/{}:watch"),
    ("POST", "/v1/batches/{}/cancel"),
    ("GET", "/v1beta/datasetio/iterrows/{}"),
    ("GET", "/v1alpha/eval/benchmarks/{}/jobs"),
    ("DELETE", "/v1/chat/completions/{}"),
]


@pytest.fixture(scope="module")
def restarts_before(stack) -> dict[str, int]:
    return restarts(stack)


def assert_refused(response: httpx.Response) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.content[:300]!r}"
    problem = envelope_problem(response.content)
    assert problem is None, problem
    return response.json()["error"]


@pytest.mark.parametrize("case", sorted(BODIES))
def test_hostile_bodies_are_4xx_in_the_envelope(stack, restarts_before, case):
    """Each body is refused with a 4xx naming the problem, in OpenAI's envelope."""
    method, path, kwargs = BODIES[case]
    assert_refused(httpx.request(method, stack.gateway_url + path, timeout=120, **kwargs))


@pytest.mark.parametrize("route", [f"{method} {path}" for method, path in ROUTES])
@pytest.mark.parametrize("trick", sorted(IDS))
def test_path_tricks_in_ids_are_4xx_in_the_envelope(stack, restarts_before, route, trick):
    """An id never escapes its segment, and a strange one is a 400, 404 or 431, never a 5xx."""
    method, path = route.split(" ", 1)
    response = httpx.request(method, stack.gateway_url + path.format(IDS[trick]), timeout=60)
    assert_refused(response)
    # Not 429: a long id once hit gRPC's metadata limit, answered as a rate limit.
    assert response.status_code in (400, 404, 414, 431), response.text[:300]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/v1/vector_stores", "/v1/responses"])
def test_bodies_over_the_gateway_limit_are_413(stack, restarts_before, path):
    """One byte over gateway.max_request_bytes is refused by the gateway before any service."""
    limit = stack.config.gateway.max_request_bytes
    body = b'{"input":"' + b"x" * limit + b'"}'
    error = assert_refused(httpx.post(stack.gateway_url + path, content=body, headers=JSON, timeout=120))
    assert error["code"] == "request_too_large"


def test_the_stack_serves_after_hostile_input_with_no_crash(stack, restarts_before):
    """GET /v1/models and every service's health check still answer, and nothing restarted."""
    assert serving_problems(stack) == []
    assert restarts(stack) == restarts_before


def test_answers_over_a_mebibyte_are_transcoded(stack):
    """A 1.5 MB prompt is stored and read back (and listed): the transcoder once stopped at
    1 MiB, so every GET of it was a 500."""
    prompt = "x" * (3 * 1024 * 1024 // 2)
    created = httpx.post(f"{stack.gateway_url}/v1/prompts", json={"prompt": prompt}, timeout=60)
    assert created.status_code == 200, created.text[:300]
    got = httpx.get(f"{stack.gateway_url}/v1/prompts/{created.json()['prompt_id']}", timeout=60)
    assert got.status_code == 200 and got.json()["prompt"] == prompt
    assert httpx.get(f"{stack.gateway_url}/v1/prompts", timeout=60).status_code == 200
