"""Caps on the text a request asks the shields to check: settings, and errors naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stackmesh_common.errors import InvalidArgument
from stackmesh_safety.limits import check_messages, check_moderation_inputs
from stackmesh_safety.messages import Message, ToolCall
from stackmesh_safety.settings import InputLimits, Settings

LIMITS = InputLimits(max_message_chars=10, max_request_chars=25)


def error_of(check, *args) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        check(*args)
    return caught.value


def test_defaults_are_64_kib_per_message_and_256_kib_per_request():
    limits = Settings().limits
    assert (limits.max_message_chars, limits.max_request_chars) == (65_536, 262_144)
    with pytest.raises(ValidationError, match="at least max_message_chars"):
        InputLimits(max_message_chars=100, max_request_chars=50)


def test_text_at_the_limits_passes():
    check_messages([Message("user", "x" * 10), Message("assistant", "y" * 10), Message("user", "z" * 5)], LIMITS)
    check_moderation_inputs(["x" * 10, "y" * 10, "z" * 5], LIMITS)


def test_a_long_message_is_named_with_the_limit():
    error = error_of(check_messages, [Message("user", "ok"), Message("user", "x" * 11)], LIMITS)
    assert (error.param, error.reason) == ("messages[1].content", "string_above_max_length")
    assert "11 characters" in error.message and "10 per message" in error.message


def test_tool_call_arguments_count_toward_their_message():
    message = Message("assistant", "", (ToolCall("run", '{"code": "xxxxx"}'),))
    assert error_of(check_messages, [message], LIMITS).param == "messages[0]"


def test_too_much_text_in_all_is_named_as_a_whole():
    error = error_of(check_messages, [Message("user", "x" * 10)] * 3, LIMITS)
    assert (error.param, error.reason) == ("messages", "context_length_exceeded")
    assert "30 characters" in error.message and "25 per request" in error.message


def test_moderation_inputs_are_named_by_position():
    assert error_of(check_moderation_inputs, ["x" * 11], LIMITS).param == "input"
    assert error_of(check_moderation_inputs, ["ok", "x" * 11], LIMITS).param == "input[1]"
    assert error_of(check_moderation_inputs, ["x" * 10] * 3, LIMITS).param == "input"
