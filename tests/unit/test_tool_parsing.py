"""Tool calls written as text are read from every common format, and nothing else is."""

from __future__ import annotations

import json

import pytest

from stackmesh_inference.tool_parsing import could_become_call, finished_calls, parse_tool_calls

NAMES = {"get_weather", "get_time"}


def calls_of(text: str) -> list[tuple[str, dict]] | None:
    calls = parse_tool_calls(text, NAMES)
    return None if calls is None else [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',  # Hermes
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',  # Llama 3.1
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',  # Llama 3.2 JSON
        '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}',
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}',  # our constrained JSON
        '  [{"name": "get_weather", "arguments": {"city": "Paris"}}]  ',
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call> Let me check.',  # trailing text dropped
    ],
)
def test_formats_give_the_same_call(text):
    assert calls_of(text) == [("get_weather", {"city": "Paris"})]


def test_several_calls_in_each_format():
    expected = [("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "CET"})]
    assert calls_of(
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n'
        '<tool_call>{"name": "get_time", "arguments": {"timezone": "CET"}}</tool_call>'
    ) == expected
    assert calls_of('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {"timezone": "CET"}}') == expected


@pytest.mark.parametrize(
    "text",
    [
        "The weather in Paris is sunny.",
        '{"name": "Paris", "population": 2100000}',  # JSON, but not a call
        '{"name": "delete_everything", "arguments": {}}',  # not one of the request's tools
        '{"name": "get_weather", "arguments": "not json"}',
        '{"name": "get_weather", "arguments": {"city": "Par',  # cut short
    ],
)
def test_other_text_is_not_a_call(text):
    assert calls_of(text) is None


def test_calls_finished_before_the_cut_are_kept():
    text = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "argu'
    assert [c["function"]["name"] for c in finished_calls(text, NAMES)] == ["get_weather"]
    assert finished_calls('{"tool_calls": [{"name": "get_wea', NAMES) == []


def test_ids_are_unique_call_ids():
    first, second = (parse_tool_calls('{"name": "get_weather", "arguments": {}}', NAMES)[0]["id"] for _ in range(2))
    assert first.startswith("call_") and first != second


@pytest.mark.parametrize("prefix, expected", [("", True), ("  <tool", True), ("<|python", True), ('{"na', True), ("Hello", False), ("<b>", False)])
def test_could_become_call(prefix, expected):
    assert could_become_call(prefix) is expected
