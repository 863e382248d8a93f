"""Tool calling on any model: passed through to models that support tools, and built from
grammar-constrained JSON for models whose chat template has none (SmolLM2 never calls a
tool on its own, but constrained to a call schema it writes a valid call every time).

A model's `tool_calling` metadata picks the mode: "native" sends `tools` to the provider and
parses calls the provider left as text; "constrained" describes the tools in a system
message, asks the provider for JSON matching a schema of the allowed calls, and turns that
JSON into `tool_calls`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from stackmesh_inference.tool_parsing import could_become_call, finished_calls, parse_tool_calls

NATIVE = "native"
CONSTRAINED = "constrained"
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")


@dataclass
class ToolPlan:
    """How one request's tools are served; `off` when it has none (or tool_choice none)."""

    mode: str | None = None
    names: set[str] = field(default_factory=set)

    @property
    def off(self) -> bool:
        return self.mode is None


def _functions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [tool["function"] for tool in body.get("tools") or []]


_SCHEMA_MAPS = ("properties", "$defs", "definitions")  # keyword -> {name: subschema}
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")  # keyword -> [subschema]
_SCHEMA_ONE = ("items", "not", "additionalProperties")  # keyword -> subschema


def _closed(schema: Any) -> Any:
    """The schema with objects closed to properties they do not name (OpenAI's strict mode):
    left open, a small model given the schema in its prompt goes on to copy it as arguments."""
    if not isinstance(schema, dict):
        return schema
    closed = dict(schema)
    for key in _SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            closed[key] = {name: _closed(sub) for name, sub in schema[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            closed[key] = [_closed(sub) for sub in schema[key]]
    for key in _SCHEMA_ONE:
        if isinstance(schema.get(key), dict):
            closed[key] = _closed(schema[key])
    if "properties" in schema and "additionalProperties" not in schema and "patternProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


def _call_schema(function: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": function["name"]}, "arguments": _closed(function.get("parameters") or {"type": "object"})},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _content_schema(response_format: dict[str, Any] | None) -> dict[str, Any]:
    """What a direct answer may be in auto mode: the request's own response format, if any."""
    kind = (response_format or {}).get("type")
    if kind == "json_schema":
        return response_format["json_schema"].get("schema") or {"type": "object"}
    if kind == "json_object":
        return {"type": "object"}
    return {"type": "string"}


def _output_schema(body: dict[str, Any], functions: list[dict[str, Any]]) -> dict[str, Any]:
    choice = body.get("tool_choice", "auto")
    if isinstance(choice, dict):
        functions = [f for f in functions if f["name"] == choice["function"]["name"]]
    items = [_call_schema(f) for f in functions]
    calls: dict[str, Any] = {"type": "array", "items": items[0] if len(items) == 1 else {"anyOf": items}, "minItems": 1}
    if body.get("parallel_tool_calls") is False:
        calls["maxItems"] = 1
    call_object = {"type": "object", "properties": {"tool_calls": calls}, "required": ["tool_calls"], "additionalProperties": False}
    if choice != "auto":
        return call_object
    answer = {
        "type": "object",
        "properties": {"content": _content_schema(body.get("response_format"))},
        "required": ["content"],
        "additionalProperties": False,
    }
    return {"anyOf": [call_object, answer]}


def _instructions(body: dict[str, Any], functions: list[dict[str, Any]]) -> str:
    described = [{k: f[k] for k in ("name", "description", "parameters") if k in f} for f in functions]
    lines = [
        "You can call these functions:",
        json.dumps(described),
        'To call functions, reply with JSON: {"tool_calls": [{"name": <function name>, "arguments": <arguments object>}]}.',
        "Call only the functions the request needs.",
    ]
    if body.get("tool_choice", "auto") == "auto":
        lines.append('To answer without calling a function, reply with JSON: {"content": <your answer>}.')
    return "\n".join(lines)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _plain_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation without tool roles or tool_calls, which templates without tools
    reject or drop: calls become the JSON the model is asked to write, results user turns."""
    names: dict[str, str] = {}
    plain = []
    for message in messages:
        if message["role"] == "assistant" and message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = call.get("function", {})
                names[call.get("id", "")] = function.get("name", "")
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = function.get("arguments")
                calls.append({"name": function.get("name"), "arguments": arguments})
            plain.append({"role": "assistant", "content": json.dumps({"tool_calls": calls})})
        elif message["role"] == "tool":
            name = names.get(message.get("tool_call_id", ""), "the function")
            plain.append({"role": "user", "content": f"Result of {name} (call {message.get('tool_call_id')}): {_text(message['content'])}"})
        else:
            plain.append(message)
    return plain


def _with_system(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    if messages and messages[0]["role"] in ("system", "developer"):
        first = messages[0]
        return [{**first, "content": f"{_text(first['content'])}\n\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def plan(body: dict[str, Any], mode: str) -> ToolPlan:
    functions = _functions(body)
    if not functions or body.get("tool_choice") == "none":
        return ToolPlan()
    return ToolPlan(mode, {f["name"] for f in functions})


def provider_request(body: dict[str, Any], tools: ToolPlan, mode: str) -> dict[str, Any]:
    """The request as the provider should see it, given the model's tool-calling mode."""
    if mode == NATIVE:
        return body
    request = {k: v for k, v in body.items() if k not in _TOOL_FIELDS}
    request["messages"] = _plain_history(body["messages"])
    if tools.off:
        return request
    functions = _functions(body)
    request["messages"] = _with_system(request["messages"], _instructions(body, functions))
    request["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "tool_calls", "schema": _output_schema(body, functions), "strict": True},
    }
    return request


def _answer(text: str, tools: ToolPlan) -> tuple[list[dict[str, Any]] | None, str | None]:
    """(tool calls, content) read from a complete reply."""
    calls = parse_tool_calls(text, tools.names)
    if calls:
        return calls, None
    if tools.mode == CONSTRAINED:
        try:
            content = json.loads(text).get("content")
        except (ValueError, AttributeError):
            # Cut short (max_tokens): the calls written in full, else the raw text.
            return finished_calls(text, tools.names) or None, text
        return None, content if isinstance(content, str) or content is None else json.dumps(content)
    return None, text


def finish_choice(choice: dict[str, Any], tools: ToolPlan) -> dict[str, Any]:
    """Turns a complete choice's text into tool calls where it holds them."""
    message = choice.get("message") or {}
    if tools.off or message.get("tool_calls"):
        return choice
    calls, content = _answer(message.get("content") or "", tools)
    if calls is None:
        return {**choice, "message": {**message, "content": content}}
    return {**choice, "message": {**message, "content": None, "tool_calls": calls}, "finish_reason": _calls_finish(choice.get("finish_reason"))}


def _calls_finish(finish_reason: str | None) -> str:
    """tool_calls, unless the reply was cut short: then `length` tells the caller so."""
    return "length" if finish_reason == "length" else "tool_calls"


def _chunk_like(template: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    chunk = {k: template[k] for k in ("id", "object", "created", "model", "system_fingerprint") if k in template}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return chunk


def _call_deltas(template: dict[str, Any], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI's streamed shape: a delta opening each call (id, name), then its arguments."""
    chunks = []
    for index, call in enumerate(calls):
        opening = {**call, "index": index, "function": {"name": call["function"]["name"], "arguments": ""}}
        chunks.append(_chunk_like(template, {"tool_calls": [opening]}))
        chunks.append(_chunk_like(template, {"tool_calls": [{"index": index, "function": {"arguments": call["function"]["arguments"]}}]}))
    return chunks


async def stream_choice(chunks: AsyncIterator[dict[str, Any]], tools: ToolPlan) -> AsyncIterator[dict[str, Any]]:
    """One choice's stream with text tool calls turned into tool-call deltas.

    Constrained replies are JSON, so they are held to the end and then sent as calls (or
    as the answer's content). A native reply is passed through unless it starts like a
    textual tool call, which is held until it proves to be one or not.
    """
    if tools.off:
        async for chunk in chunks:
            yield chunk
        return
    held: list[str] = []
    holding = True
    last: dict[str, Any] | None = None
    async for chunk in chunks:
        choice = chunk["choices"][0] if chunk.get("choices") else None
        if choice is None:  # the usage chunk
            yield chunk
            continue
        last = chunk
        delta = choice.get("delta") or {}
        if not holding or delta.get("tool_calls"):
            holding = False
            yield chunk
            continue
        text = delta.get("content")
        if text:
            held.append(text)
            if tools.mode == NATIVE and not could_become_call("".join(held)):
                holding = False
                yield _chunk_like(chunk, {"content": "".join(held)}, choice.get("finish_reason"))
                continue
        if choice.get("finish_reason"):
            calls, content = _answer("".join(held), tools)
            if calls:
                for call_chunk in _call_deltas(chunk, calls):
                    yield call_chunk
                yield _chunk_like(chunk, {}, _calls_finish(choice["finish_reason"]))
            else:
                yield _chunk_like(chunk, {"content": content} if content else {}, choice["finish_reason"])
            held, holding = [], False
        elif not text:
            yield chunk  # the role delta
    if holding and held and last is not None:
        yield _chunk_like(last, {"content": "".join(held)})

