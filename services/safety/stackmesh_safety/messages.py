"""The text shields check: OpenAI chat messages and moderation inputs, validated and flattened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackmesh_common.errors import InvalidArgument

ROLES = ("system", "developer", "user", "assistant", "tool")
# Content part types that carry text; anything else (images, audio) cannot be checked here.
_TEXT_PARTS = {"text": "text", "input_text": "text", "output_text": "text", "refusal": "refusal"}
MAX_MODERATION_INPUTS = 128


@dataclass(frozen=True)
class ToolCall:
    name: str
    # JSON-encoded arguments, as the model produced them.
    arguments: str


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def text(self) -> str:
        """Content plus tool calls, as one text: a tool call's arguments can carry the harm."""
        calls = [f"{call.name}({call.arguments})" for call in self.tool_calls]
        return "\n".join(part for part in [self.content, *calls] if part)


def _content_text(where: str, content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidArgument(f"`{where}.content` must be a string or a list of content parts", param=f"{where}.content")
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _TEXT_PARTS:
            raise InvalidArgument(
                f"`{where}.content[{index}]` is not a text part (type {kind!r}); shields check text only",
                param=f"{where}.content",
            )
        value = part.get(_TEXT_PARTS[kind])
        if not isinstance(value, str):
            raise InvalidArgument(f"`{where}.content[{index}].{_TEXT_PARTS[kind]}` must be a string", param=f"{where}.content")
        texts.append(value)
    return "\n".join(texts)


def _tool_calls(where: str, calls: Any) -> tuple[ToolCall, ...]:
    if calls is None:
        return ()
    if not isinstance(calls, list):
        raise InvalidArgument(f"`{where}.tool_calls` must be a list", param=f"{where}.tool_calls")
    parsed = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidArgument(f"`{where}.tool_calls[{index}].function.name` is required", param=f"{where}.tool_calls")
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            raise InvalidArgument(f"`{where}.tool_calls[{index}].function.arguments` must be a JSON string", param=f"{where}.tool_calls")
        parsed.append(ToolCall(function["name"], arguments))
    return tuple(parsed)


def parse_messages(values: list[Any]) -> list[Message]:
    """Validates OpenAI-format messages; every failure names the offending field."""
    if not values:
        raise InvalidArgument("`messages` is required and must be a non-empty list of messages", param="messages")
    messages = []
    for index, value in enumerate(values):
        where = f"messages[{index}]"
        if not isinstance(value, dict):
            raise InvalidArgument(f"`{where}` must be an object with `role` and `content`", param=where)
        role = value.get("role")
        if role not in ROLES:
            raise InvalidArgument(f"`{where}.role` must be one of {', '.join(ROLES)}, got {role!r}", param=f"{where}.role")
        tool_calls = _tool_calls(where, value.get("tool_calls")) if role == "assistant" else ()
        content = value.get("content")
        if content is None and not tool_calls:
            raise InvalidArgument(f"`{where}.content` is required for role {role!r}", param=f"{where}.content")
        messages.append(Message(role, "" if content is None else _content_text(where, content), tool_calls))
    return messages


def moderation_inputs(value: Any) -> list[str]:
    """OpenAI's `input`: a string, a list of strings (one result each), or a list of
    multimodal parts that together form one input."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        raise InvalidArgument("`input` is required: a string or a non-empty list of strings", param="input")
    if all(isinstance(item, str) for item in value):
        if len(value) > MAX_MODERATION_INPUTS:
            raise InvalidArgument(f"`input` may hold at most {MAX_MODERATION_INPUTS} items", param="input")
        return list(value)
    texts = []
    for index, part in enumerate(value):
        if not isinstance(part, dict):
            raise InvalidArgument("`input` must be a list of strings or a list of multimodal input objects, not a mix", param="input")
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidArgument(
                f"`input[{index}]` has type {part.get('type')!r}; shields check text only ({{\"type\": \"text\", \"text\": ...}})",
                param="input",
            )
        texts.append(part["text"])
    return ["\n".join(texts)]
