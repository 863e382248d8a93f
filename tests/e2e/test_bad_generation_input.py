"""Bad tools, schemas, guided decoding, limits and registrations: 400s naming the field."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of, post

USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    "extra, param, words",
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "bogus"}}}]},
         "tools[0].function.parameters", "not a valid JSON Schema"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"properties": {"a": {"maxLength": -1}}}}}]},
         "tools[0].function.parameters", "at properties/a/maxLength"),
        ({"tools": [{"type": "function", "function": {"name": "no spaces"}}]}, "tools[0].function.name", "letters"),
        ({"tools": [TOOL, TOOL]}, "tools[1].function.name", "repeats"),
        ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}}, "tool_choice", "get_weather"),
        ({"tool_choice": "required"}, "tool_choice", "no `tools`"),
        ({"tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice", '"required"'),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 5}}}},
         "response_format.json_schema.schema", "not a valid JSON Schema"),
        ({"response_format": {"type": "json_schema"}}, "response_format", "json_schema"),
        ({"guided_regex": "[unclosed"}, "guided_regex", "regular expression"),
        ({"guided_json": {"type": "nope"}}, "guided_json", "not a valid JSON Schema"),
        ({"guided_regex": "a+", "guided_choice": ["a"]}, "guided_choice", "at most one"),
        ({"guided_regex": "a+", "response_format": {"type": "json_object"}}, "guided_regex", "response_format"),
        ({"top_k": -2}, "top_k", "top_k"),
        ({"min_p": 1.5}, "min_p", "min_p"),
        ({"repetition_penalty": 0}, "repetition_penalty", "above 0"),
        ({"max_tokens": 100000}, "max_tokens", "context length"),
    ],
)
def test_bad_generation_fields_name_the_field(stack, extra, param, words):
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": USER, **extra})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == param and words in error["message"], error


def test_streaming_bad_schema_is_a_400_not_a_broken_stream(stack):
    body = {"model": CHAT_MODEL, "messages": USER, "stream": True, "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 1}}}]}
    response = post(stack, "/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert error_of(response)["param"] == "tools[0].function.parameters"


@pytest.mark.parametrize(
    "registration, param, words",
    [
        ({"provider_id": "vllm", "provider_model_id": "no-such-model"}, "provider_model_id", "smollm2-135m-instruct"),
        ({"provider_id": "openai", "provider_model_id": "gpt-9"}, "provider_model_id", "does not serve"),
        ({"provider_id": "vllm", "provider_model_id": "smollm2-135m-instruct", "model_type": "rerank"}, "model_type", "rerank"),
        ({"provider_id": "transformers", "provider_model_id": "/nonexistent/checkpoint"}, "provider_model_id", "/nonexistent/checkpoint"),
        ({"provider_id": "transformers", "provider_model_id": "smollm2-135m-instruct-q4_1", "model_type": "embedding"}, "model_type", "llm"),
    ],
)
def test_registering_a_model_a_new_provider_cannot_serve_is_400(stack, registration, param, words):
    response = post(stack, "/v1/models", json={"model_id": "bad-model", **registration})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == param and words in error["message"], error


def unrelated_waits(stack, times: int = 5) -> list[float]:
    """Seconds each of a few `GET /v1/models` took: an unrelated request while a hostile one runs."""
    waits = []
    for _ in range(times):
        started = time.monotonic()
        assert httpx.get(f"{stack.gateway_url}/v1/models", timeout=30).status_code == 200
        waits.append(time.monotonic() - started)
    return waits


def test_thousands_of_tools_for_an_unknown_model_are_refused_before_any_tool_work(stack):
    """The model is looked up and the tools counted before any tool is validated, so the
    hostile request is answered fast and a concurrent request is not held up."""
    tools = [{"type": "function", "function": {"name": f"f{i}", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}} for i in range(5000)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        hostile = pool.submit(post, stack, "/v1/chat/completions", json={"model": "no-such-model", "messages": USER, "tools": tools})
        waits = unrelated_waits(stack)
        refused = hostile.result()
    assert refused.status_code == 404 and error_of(refused)["param"] == "model"
    assert sorted(waits)[2] < 0.1, waits


def test_more_than_128_tools_is_400_naming_tools(stack):
    tools = [{"type": "function", "function": {"name": f"f{i}"}} for i in range(129)]
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": USER, "tools": tools})
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "tools" and "at most 128" in error["message"]


def test_an_oversized_tool_schema_is_400_naming_it(stack):
    schema = {"type": "object", "properties": {f"p{i}": {"type": "string", "description": "x" * 100} for i in range(1000)}}
    tools = [{"type": "function", "function": {"name": "big", "parameters": schema}}]
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": USER, "tools": tools})
    assert response.status_code == 400
    assert error_of(response)["param"] == "tools[0].function.parameters"


def test_a_completion_fan_out_past_16_choices_is_400_naming_prompt(stack):
    response = post(stack, "/v1/completions", json={"model": CHAT_MODEL, "prompt": ["Once"] * 40, "n": 2})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == "prompt" and "80 completions" in error["message"] and "at most 16" in error["message"]


def test_a_prompt_list_without_max_tokens_stops_at_16_tokens_each_and_queues(stack):
    """16 choices, none with a limit of its own: each stops at OpenAI's default of 16 tokens,
    and the service stays responsive while they run 4 at a time."""
    body = {"model": CHAT_MODEL, "prompt": ["Write a very long essay about the sea."] * 16, "temperature": 0.9}
    with ThreadPoolExecutor(max_workers=1) as pool:
        fan_out = pool.submit(post, stack, "/v1/completions", json=body)
        time.sleep(0.3)
        waits = unrelated_waits(stack)
        completion = fan_out.result()
    assert completion.status_code == 200, completion.text
    body = completion.json()
    assert len(body["choices"]) == 16 and body["usage"]["completion_tokens"] <= 16 * 16
    assert any(choice["finish_reason"] == "length" for choice in body["choices"])
    assert sorted(waits)[2] < 0.1, waits
