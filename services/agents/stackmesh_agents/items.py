"""Response items as the service keeps them, and as the model reads them.

An item is the plain JSON of a `ResponseItem` (only the fields its type uses). Callers send
OpenAI's looser input shapes — a bare string, a message without `type`, string content —
and `normalize_input` turns them into items with ids; `to_chat_messages` renders a run of
items as the chat conversation the inference service takes (MCP listings and approval
requests are bookkeeping the model does not read).
"""

from __future__ import annotations

import secrets
from typing import Any

from google.protobuf.json_format import ParseError

from stackmesh.agents.v1 import response_pb2
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.protojson import from_json

Item = dict[str, Any]

MESSAGE_ROLES = ("system", "developer", "user", "assistant")
# What the model reads for a call its caller declined to approve.
DECLINED = "The user declined to run this tool call."
# Input item types a caller may send; the rest (file_search_call, mcp_list_tools, …) are
# only produced by the service, but may come back in a conversation or a replayed output.
INPUT_TYPES = ("message", "function_call", "function_call_output", "mcp_approval_response")
TEXT_PARTS = ("input_text", "output_text")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _parts(content: Any, role: str, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "output_text" if role == "assistant" else "input_text", "text": content, **_annotations(role)}]
    if not isinstance(content, list) or not content:
        raise InvalidArgument(f"`{where}.content` must be a string or a non-empty list of content parts", param=f"{where}.content")
    parts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in TEXT_PARTS or kind == "refusal":
            field = "refusal" if kind == "refusal" else "text"
            if not isinstance(part.get(field), str):
                raise InvalidArgument(f"`{where}.content[{index}].{field}` must be a string", param=f"{where}.content[{index}].{field}")
            parts.append({**part, **(_annotations(role) if kind == "output_text" else {})})
        elif kind == "input_image":
            if not part.get("image_url") and not part.get("file_id"):
                raise InvalidArgument(f"`{where}.content[{index}]` needs an `image_url` or a `file_id`", param=f"{where}.content[{index}]")
            parts.append(part)
        else:
            raise InvalidArgument(
                f"`{where}.content[{index}].type` must be input_text, input_image, output_text or refusal, got {kind!r}",
                param=f"{where}.content[{index}].type",
            )
    return parts


def _annotations(role: str) -> dict[str, Any]:
    return {"annotations": []} if role == "assistant" else {}


def _message(raw: dict[str, Any], where: str) -> Item:
    role = raw.get("role")
    if role not in MESSAGE_ROLES:
        raise InvalidArgument(f"`{where}.role` must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}", param=f"{where}.role")
    return {
        "type": "message",
        "id": raw.get("id") or new_id("msg"),
        "role": role,
        "status": raw.get("status") or "completed",
        "content": _parts(raw.get("content"), role, where),
    }


def _required_string(raw: dict[str, Any], field: str, where: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"`{where}.{field}` is required", param=f"{where}.{field}")
    return value


def _function_call_output(raw: dict[str, Any], where: str) -> Item:
    output = raw.get("output")
    if not isinstance(output, (str, list)):
        raise InvalidArgument(f"`{where}.output` must be a string or a list of content parts", param=f"{where}.output")
    return {
        "type": "function_call_output",
        "id": raw.get("id") or new_id("fco"),
        "call_id": _required_string(raw, "call_id", where),
        "output": output,
        "status": raw.get("status") or "completed",
    }


def _function_call(raw: dict[str, Any], where: str) -> Item:
    return {
        "type": "function_call",
        "id": raw.get("id") or new_id("fc"),
        "call_id": _required_string(raw, "call_id", where),
        "name": _required_string(raw, "name", where),
        "arguments": raw.get("arguments") or "{}",
        "status": raw.get("status") or "completed",
    }


def _approval_response(raw: dict[str, Any], where: str) -> Item:
    if not isinstance(raw.get("approve"), bool):
        raise InvalidArgument(f"`{where}.approve` is required: true or false", param=f"{where}.approve")
    item = {
        "type": "mcp_approval_response",
        "id": raw.get("id") or new_id("mcpa"),
        "approval_request_id": _required_string(raw, "approval_request_id", where),
        "approve": raw["approve"],
    }
    if raw.get("reason") is not None:
        item["reason"] = raw["reason"]
    return item


def normalize_item(raw: Any, where: str) -> Item:
    if not isinstance(raw, dict):
        raise InvalidArgument(f"`{where}` must be an item object", param=where)
    kind = raw.get("type", "message" if "role" in raw else None)
    if kind == "message":
        item = _message(raw, where)
    elif kind == "function_call_output":
        item = _function_call_output(raw, where)
    elif kind == "function_call":
        item = _function_call(raw, where)
    elif kind == "mcp_approval_response":
        item = _approval_response(raw, where)
    else:
        raise InvalidArgument(f"`{where}.type` must be one of {', '.join(INPUT_TYPES)}, got {kind!r}", param=f"{where}.type")
    # Fields passed through as sent (id, status, a part's detail) must fit the ResponseItem
    # every read renders, or the item would be stored but unreadable.
    try:
        from_json(item, response_pb2.ResponseItem)
    except ParseError as error:
        raise InvalidArgument(f"`{where}` is not a valid item: {error}", param=where) from None
    return item


def normalize_input(raw: Any, param: str = "input") -> list[Item]:
    """A string is one user message; a list holds items (messages may omit `type`)."""
    if isinstance(raw, str):
        if not raw:
            raise InvalidArgument(f"`{param}` must not be empty", param=param)
        return [_message({"role": "user", "content": raw}, param)]
    if not isinstance(raw, list) or not raw:
        raise InvalidArgument(f"`{param}` is required: a string or a non-empty list of items", param=param)
    return [normalize_item(item, f"{param}[{index}]") for index, item in enumerate(raw)]


def text_of(content: Any) -> str:
    """The text of string content or of content parts (images are not text)."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        if part.get("type") in TEXT_PARTS:
            texts.append(part["text"])
        elif part.get("type") == "refusal":
            texts.append(part["refusal"])
    return "\n".join(texts)


def _user_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Chat content: plain text when there are only text parts, else chat content parts."""
    if all(part["type"] in TEXT_PARTS for part in parts):
        return text_of(parts)
    converted = []
    for part in parts:
        if part["type"] == "input_image":
            converted.append({"type": "image_url", "image_url": {"url": part.get("image_url") or part["file_id"]}})
        else:
            converted.append({"type": "text", "text": part.get("text", part.get("refusal", ""))})
    return converted


def to_chat_messages(instructions: str | None, items: list[Item]) -> list[dict[str, Any]]:
    """The chat conversation for a run of items. Consecutive calls become one assistant
    message with several tool_calls, as chat models expect parallel calls."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
    requests = {item["id"]: item for item in items if item["type"] == "mcp_approval_request"}
    for item in items:
        kind = item["type"]
        if kind == "message":
            role = item["role"]
            if role == "assistant":
                messages.append({"role": "assistant", "content": text_of(item["content"])})
            else:
                messages.append({"role": role, "content": _user_content(item["content"])})
        elif kind == "function_call":
            add_tool_call(messages, item["call_id"], item["name"], item["arguments"])
        elif kind == "function_call_output":
            output = item["output"]
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": output if isinstance(output, str) else text_of(output)})
        elif kind == "mcp_call":
            add_tool_call(messages, item["id"], item["name"], item["arguments"])
            messages.append({"role": "tool", "tool_call_id": item["id"], "content": mcp_call_result(item)})
        elif kind == "mcp_approval_response" and not item["approve"] and item["approval_request_id"] in requests:
            # An approved call shows as its mcp_call; a declined one only here.
            request = requests[item["approval_request_id"]]
            add_tool_call(messages, request["id"], request["name"], request["arguments"])
            messages.append({"role": "tool", "tool_call_id": request["id"], "content": DECLINED})
    return messages


def chat_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def add_tool_call(messages: list[dict[str, Any]], call_id: str, name: str, arguments: str) -> None:
    """The call as the assistant's, joining the assistant message of calls just before it."""
    call = chat_tool_call(call_id, name, arguments)
    last = messages[-1] if messages else None
    if last and last["role"] == "assistant" and last.get("tool_calls") and not last.get("content"):
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def mcp_call_result(item: Item) -> str:
    """What the model reads of an mcp_call: its output, or its error."""
    error = item.get("error")
    if not error:
        return item.get("output") or ""
    if error.get("type") == "mcp_tool_execution_error":
        return "Error: " + text_of(error.get("content"))
    return "Error: " + str(error.get("message", ""))


def approvals_answered(context: list[Item], new_input: list[Item]) -> None:
    """Every mcp_approval_response answers a pending request of the context (400 otherwise)."""
    pending = {item["id"] for item in context if item["type"] == "mcp_approval_request"}
    pending -= {item["approval_request_id"] for item in context if item["type"] == "mcp_approval_response"}
    for index, item in enumerate(new_input):
        if item["type"] != "mcp_approval_response":
            continue
        if item["approval_request_id"] not in pending:
            raise InvalidArgument(
                f"`input[{index}].approval_request_id` {item['approval_request_id']!r} names no pending mcp_approval_request; "
                "continue from the response that asked (previous_response_id or conversation)",
                param=f"input[{index}].approval_request_id",
            )
        pending.discard(item["approval_request_id"])


def function_calls_answered(items: list[Item]) -> None:
    """Every function_call_output answers a call the context holds (OpenAI's 400 otherwise)."""
    calls = {item["call_id"] for item in items if item["type"] == "function_call"}
    for index, item in enumerate(items):
        if item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise InvalidArgument(
                f"no function call with call_id {item['call_id']!r} precedes this output; continue from the response that made "
                "the call (previous_response_id or conversation)",
                param="input",
            )


