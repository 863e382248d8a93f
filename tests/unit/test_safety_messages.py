"""Run-shield messages and moderation inputs: validation naming the field, and merged results."""

from __future__ import annotations

import pytest

from stackmesh_common.errors import InvalidArgument
from stackmesh_safety.messages import Message, ToolCall, moderation_inputs, parse_messages
from stackmesh_safety.moderation import OPENAI_CATEGORIES, merge
from stackmesh_safety.providers.base import ShieldResult, Violation


def test_messages_flatten_text_parts_and_tool_calls():
    messages = parse_messages(
        [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "ok"},
        ]
    )
    assert messages == [Message("user", "a\nb"), Message("assistant", "", (ToolCall("f", "{}"),)), Message("tool", "ok")]
    assert messages[1].text == "f({})"


@pytest.mark.parametrize(
    "messages, param",
    [
        ([], "messages"),
        (["hi"], "messages[0]"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": "ok"}, {"role": "user"}], "messages[1].content"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}], "messages[0].content"),
        ([{"role": "assistant", "content": None, "tool_calls": [{"function": {}}]}], "messages[0].tool_calls"),
    ],
)
def test_bad_messages_name_the_field(messages, param):
    with pytest.raises(InvalidArgument) as caught:
        parse_messages(messages)
    assert caught.value.param == param


def test_moderation_inputs():
    assert moderation_inputs("x") == ["x"]
    assert moderation_inputs(["a", "b"]) == ["a", "b"]
    # Multimodal parts together are one input, as in OpenAI's API.
    assert moderation_inputs([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == ["a\nb"]


@pytest.mark.parametrize("value", [None, [], 5, ["a", {"type": "text", "text": "b"}], [{"type": "image_url", "image_url": {}}], ["x"] * 129])
def test_bad_moderation_inputs(value):
    with pytest.raises(InvalidArgument) as caught:
        moderation_inputs(value)
    assert caught.value.param == "input"


def test_merge_has_every_openai_category_and_ors_the_shields():
    guard = ShieldResult(Violation("error", "blocked", {"violation_type": "S1"}), {"violence": 1.0, "privacy": 0.0}, frozenset({"violence"}))
    pii = ShieldResult(None, {"pii/email": 0.0}, frozenset())
    result = merge([("guard", guard), ("pii", pii)])
    assert result.flagged
    assert set(OPENAI_CATEGORIES) <= set(result.categories) == set(result.category_scores) == set(result.category_applied_input_types)
    assert result.categories["violence"] and not result.categories["hate"] and not result.categories["privacy"]
    assert result.category_scores["violence"] == 1.0
    assert result.user_message == "blocked"
    assert result.metadata == {"shields": ["guard", "pii"], "violations": {"guard": {"violation_level": "error", "user_message": "blocked", "violation_type": "S1"}}}


def test_merge_of_clean_results_is_not_flagged():
    result = merge([("pii", ShieldResult(None, {"pii/email": 0.0}, frozenset()))])
    assert not result.flagged and not any(result.categories.values()) and result.user_message is None
