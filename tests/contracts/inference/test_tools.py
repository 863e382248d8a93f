"""Tool calling on every provider. SmolLM2 has no tools in its chat template, so these run
through constrained generation: `required` and named choices must give valid calls.
(max_tokens leaves room for the JSON around a call, which llama.cpp indents.)"""

from __future__ import annotations

import json

import jsonschema

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a timezone.",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string", "maxLength": 40}}, "required": ["timezone"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def assert_valid_call(call, tool) -> None:
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == tool["function"]["name"]
    jsonschema.validate(json.loads(call.function.arguments), tool["function"]["parameters"])


def test_required_tool_choice_returns_a_valid_call(client, served):
    completion = client.chat.completions.create(
        model=served.model, messages=ASK, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False, max_tokens=64, temperature=0
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert len(choice.message.tool_calls) == 1
    assert_valid_call(choice.message.tool_calls[0], WEATHER)


def test_named_tool_choice_calls_that_function(client, served):
    completion = client.chat.completions.create(
        model=served.model,
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        parallel_tool_calls=False,
        max_tokens=64, temperature=0,
    )
    [call] = completion.choices[0].message.tool_calls
    assert_valid_call(call, TIME)


def test_streamed_tool_call_deltas_assemble_into_a_call(client, served):
    chunks = list(
        client.chat.completions.create(
            model=served.model, messages=ASK, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False, max_tokens=64, temperature=0, stream=True
        )
    )
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += delta.function.name or ""
            call["arguments"] += delta.function.arguments or ""
    assert list(calls) == [0]
    assert calls[0]["id"].startswith("call_") and calls[0]["name"] == "get_weather"
    jsonschema.validate(json.loads(calls[0]["arguments"]), WEATHER["function"]["parameters"])
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_tool_results_round_trip(client, served):
    """A call and its result go back to the model, which answers from them."""
    first = client.chat.completions.create(
        model=served.model, messages=ASK, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False, max_tokens=64, temperature=0
    )
    call = first.choices[0].message.tool_calls[0]
    messages = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(include={"id", "type", "function"})]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 24 degrees Celsius."},
    ]
    answer = client.chat.completions.create(model=served.model, messages=messages, tools=[WEATHER], tool_choice="none", max_tokens=12)
    assert answer.choices[0].message.content and not answer.choices[0].message.tool_calls


def test_auto_tool_choice_answers_with_a_call_or_text(client, served):
    completion = client.chat.completions.create(model=served.model, messages=ASK, tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False, max_tokens=64, temperature=0)
    message = completion.choices[0].message
    if message.tool_calls:
        assert_valid_call(message.tool_calls[0], WEATHER)
        assert completion.choices[0].finish_reason == "tool_calls"
    else:
        assert message.content
