"""Constrained tool calling shapes requests and reads replies; streams turn text calls into deltas."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import jsonschema

from stackmesh_inference.tools import CONSTRAINED, NATIVE, finish_choice, plan, provider_request, stream_choice

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def body(**extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER, TIME], **extra}


def schema_of(request: dict[str, Any]) -> dict[str, Any]:
    return request["response_format"]["json_schema"]["schema"]


def test_native_models_get_the_request_as_is():
    request = body(tool_choice="required")
    assert provider_request(request, plan(request, NATIVE), NATIVE) is request


def test_constrained_required_allows_only_calls_of_the_tools():
    request = body(tool_choice="required", parallel_tool_calls=False)
    shaped = provider_request(request, plan(request, CONSTRAINED), CONSTRAINED)
    assert "tools" not in shaped and "tool_choice" not in shaped and "parallel_tool_calls" not in shaped
    assert shaped["messages"][0]["role"] == "system" and "get_weather" in shaped["messages"][0]["content"]
    schema = schema_of(shaped)
    jsonschema.validate({"tool_calls": [{"name": "get_time", "arguments": {}}]}, schema)
    for wrong in ({"content": "hi"}, {"tool_calls": []}, {"tool_calls": [{"name": "other", "arguments": {}}]},
                  {"tool_calls": [{"name": "get_time", "arguments": {}}, {"name": "get_time", "arguments": {}}]}):
        assert not jsonschema.Draft202012Validator(schema).is_valid(wrong), wrong


def test_constrained_named_choice_and_auto():
    named = body(tool_choice={"type": "function", "function": {"name": "get_time"}})
    schema = schema_of(provider_request(named, plan(named, CONSTRAINED), CONSTRAINED))
    assert not jsonschema.Draft202012Validator(schema).is_valid({"tool_calls": [{"name": "get_weather", "arguments": {}}]})
    auto = body()
    schema = schema_of(provider_request(auto, plan(auto, CONSTRAINED), CONSTRAINED))
    jsonschema.validate({"content": "It is sunny."}, schema)


def test_constrained_history_has_no_tool_roles_and_a_merged_system_message():
    request = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        "tools": [WEATHER],
        "tool_choice": "none",
    }
    shaped = provider_request(request, plan(request, CONSTRAINED), CONSTRAINED)
    assert [m["role"] for m in shaped["messages"]] == ["system", "user", "assistant", "user"]
    assert json.loads(shaped["messages"][2]["content"]) == {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    assert "get_weather" in shaped["messages"][3]["content"] and "sunny" in shaped["messages"][3]["content"]
    assert "response_format" not in shaped  # tool_choice none: a plain answer


def test_finish_choice_reads_calls_and_answers():
    tools = plan(body(), CONSTRAINED)
    call = finish_choice({"message": {"role": "assistant", "content": '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'}, "finish_reason": "stop"}, tools)
    assert call["finish_reason"] == "tool_calls" and call["message"]["content"] is None
    assert call["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    answer = finish_choice({"message": {"role": "assistant", "content": '{"content": "Sunny."}'}, "finish_reason": "stop"}, tools)
    assert answer["message"]["content"] == "Sunny." and answer["finish_reason"] == "stop"


async def chunks_of(*deltas: dict[str, Any], finish: str = "stop") -> AsyncIterator[dict[str, Any]]:
    for delta in deltas:
        yield {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}


def collect(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [chunk async for chunk in stream]

    return asyncio.run(run())


def test_native_stream_turns_a_hermes_call_into_deltas():
    tools = plan(body(), NATIVE)
    out = collect(stream_choice(chunks_of({"role": "assistant"}, {"content": "<tool_"}, {"content": 'call>{"name": "get_weather", '}, {"content": '"arguments": {"city": "Paris"}}</tool_call>'}), tools))
    deltas = [c["choices"][0]["delta"] for c in out]
    assert deltas[0] == {"role": "assistant"}
    assert deltas[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": ""}
    assert deltas[2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_native_stream_passes_prose_through_as_it_comes():
    tools = plan(body(), NATIVE)
    out = collect(stream_choice(chunks_of({"content": "It"}, {"content": " is"}, {"content": " sunny."}), tools))
    assert [c["choices"][0]["delta"].get("content") for c in out] == ["It", " is", " sunny.", None]
    assert out[-1]["choices"][0]["finish_reason"] == "stop"


def test_call_arguments_are_closed_to_unnamed_properties():
    """A property may itself be named `properties`; explicit additionalProperties stays."""
    parameters = {
        "type": "object",
        "properties": {"properties": {"type": "object", "properties": {"a": {"type": "string"}}}, "tags": {"type": "object", "additionalProperties": True}},
    }
    request = body(tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}], tool_choice="required")
    schema = schema_of(provider_request(request, plan(request, CONSTRAINED), CONSTRAINED))
    validator = jsonschema.Draft202012Validator(schema)
    ok = {"tool_calls": [{"name": "f", "arguments": {"properties": {"a": "x"}, "tags": {"any": 1}}}]}
    assert validator.is_valid(ok)
    assert not validator.is_valid({"tool_calls": [{"name": "f", "arguments": {"properties": {"a": "x"}, "extra": 1}}]})
    assert not validator.is_valid({"tool_calls": [{"name": "f", "arguments": {"properties": {"a": "x", "b": 1}}}]})
