"""Caps on the text one request asks the shields to check, each error naming the field."""

from __future__ import annotations

from stackmesh_common.errors import InvalidArgument
from stackmesh_safety.messages import Message
from stackmesh_safety.settings import InputLimits


def _check(sizes: list[tuple[str, int]], limits: InputLimits, whole: str) -> None:
    """`sizes`: (field, characters) of each message or input; `whole` names them together."""
    for param, size in sizes:
        if size > limits.max_message_chars:
            raise InvalidArgument(
                f"`{param}` has {size} characters; shields check at most {limits.max_message_chars} per message",
                param=param,
                reason="string_above_max_length",
            )
    total = sum(size for _, size in sizes)
    if total > limits.max_request_chars:
        raise InvalidArgument(
            f"`{whole}` total {total} characters; shields check at most {limits.max_request_chars} per request "
            "(split the text over several requests)",
            param=whole,
            reason="context_length_exceeded",
        )


def check_messages(messages: list[Message], limits: InputLimits) -> None:
    # A tool call's arguments are checked too: then the message as a whole is the field.
    _check(
        [(f"messages[{i}]" if m.tool_calls else f"messages[{i}].content", len(m.text)) for i, m in enumerate(messages)],
        limits,
        "messages",
    )


def check_moderation_inputs(inputs: list[str], limits: InputLimits) -> None:
    params = ["input"] if len(inputs) == 1 else [f"input[{i}]" for i in range(len(inputs))]
    _check([(param, len(text)) for param, text in zip(params, inputs)], limits, "input")
