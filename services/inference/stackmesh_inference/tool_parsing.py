"""Tool calls written as text: the Hermes, Llama 3 and plain JSON formats models emit.

A model with tool support but a server without a parser for its format (or our own
constrained JSON) leaves the calls in `content`; these functions turn that text into
OpenAI `tool_calls`. Only names of the request's tools count, so an ordinary JSON answer
is never mistaken for a call.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
PYTHON_TAG = "<|python_tag|>"
# Prefixes after which the rest of a reply is a tool call; streams hold text back while it
# could still turn into one of them.
MARKERS = ("<tool_call>", PYTHON_TAG, "{", "[")


def call_id() -> str:
    return "call_" + secrets.token_hex(12)


def tool_call(name: str, arguments: Any, index: int | None = None) -> dict[str, Any]:
    call = {
        "id": call_id(),
        "type": "function",
        "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)},
    }
    if index is not None:
        call["index"] = index
    return call


def _json_values(text: str) -> list[Any]:
    """Consecutive JSON values in text, separated by whitespace, commas or semicolons."""
    decoder = json.JSONDecoder()
    values, position = [], 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,;":
            position += 1
        if position == len(text):
            return values
        value, position = decoder.raw_decode(text, position)
        values.append(value)


def _as_call(value: Any, names: set[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # {"type": "function", "function": {...}}
        value = value["function"]
    name = value.get("name")
    arguments = value.get("arguments", value.get("parameters"))
    if name not in names or arguments is None:
        return None
    if isinstance(arguments, str):
        try:
            json.loads(arguments)
        except ValueError:
            return None
    elif not isinstance(arguments, dict):
        return None
    return tool_call(name, arguments)


def _calls(values: list[Any], names: set[str]) -> list[dict[str, Any]] | None:
    items: list[Any] = []
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
            items.extend(value["tool_calls"])
        elif isinstance(value, list):
            items.extend(value)
        else:
            items.append(value)
    calls = [_as_call(item, names) for item in items]
    if not calls or any(call is None for call in calls):
        return None
    return calls  # type: ignore[return-value]


def parse_tool_calls(text: str, names: set[str]) -> list[dict[str, Any]] | None:
    """The tool calls written in text, or None when it is not (only) tool calls."""
    text = text.strip()
    try:
        if text.startswith("<tool_call>"):
            return _calls([v for body in HERMES.findall(text) for v in _json_values(body)], names)
        if text.startswith(PYTHON_TAG):
            return _calls(_json_values(text[len(PYTHON_TAG) :]), names)
        if text[:1] in "{[":
            return _calls(_json_values(text), names)
    except ValueError:
        return None
    return None


def could_become_call(text: str) -> bool:
    """Whether a reply starting with text may still turn out to be a tool call."""
    text = text.lstrip()
    return any(text.startswith(marker) or marker.startswith(text) for marker in MARKERS)


def finished_calls(text: str, names: set[str]) -> list[dict[str, Any]]:
    """The calls a reply cut short (max_tokens) had finished writing: the whole items of its
    `{"tool_calls": [...` array."""
    key = text.find('"tool_calls"')
    start = text.find("[", key) if key != -1 else -1
    if start == -1:
        return []
    decoder = json.JSONDecoder()
    calls, position = [], start + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            return calls
        call = _as_call(value, names)
        if call is None:
            return calls
        calls.append(call)
