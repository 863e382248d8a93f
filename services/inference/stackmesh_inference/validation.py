"""Checks of OpenAI request bodies, each failure naming the offending field.

Envoy's transcoder already rejects malformed JSON and wrong scalar types; these checks
cover what a schema-less `google.protobuf.Value` field or a range allows through.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from stackmesh_common.errors import InvalidArgument

ROLES = ("system", "developer", "user", "assistant", "tool")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
TOOL_CHOICES = ("none", "auto", "required")
GUIDED = ("guided_json", "guided_regex", "guided_choice")
# OpenAI's rule for function names.
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# OpenAI's cap on tools per request, and ours on one function's schema: validating and
# compiling them is CPU work on the service's event loop.
MAX_TOOLS = 128
MAX_SCHEMA_CHARS = 64 * 1024
# Completions one text-completion request may ask for (prompts × n): each is a provider call.
MAX_COMPLETION_CHOICES = 16


def _range(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is not None and not low <= value <= high:
        raise InvalidArgument(f"`{name}` must be between {low:g} and {high:g}, got {value:g}", param=name)


def _stop(body: dict[str, Any]) -> None:
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop) or len(stop) > 4:
        raise InvalidArgument("`stop` must be a string or a list of at most 4 strings", param="stop")


def _message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise InvalidArgument(f"`{where}` must be an object with `role` and `content`", param=where)
    role = message.get("role")
    if role not in ROLES:
        raise InvalidArgument(f"`{where}.role` must be one of {', '.join(ROLES)}, got {role!r}", param=f"{where}.role")
    content = message.get("content")
    if content is None:
        if role == "assistant" and message.get("tool_calls"):
            return
        raise InvalidArgument(f"`{where}.content` is required for role {role!r}", param=f"{where}.content")
    if isinstance(content, list):
        for part_index, part in enumerate(content):
            if not isinstance(part, dict) or "type" not in part:
                raise InvalidArgument(
                    f"`{where}.content[{part_index}]` must be a content part with a `type`", param=f"{where}.content"
                )
    elif not isinstance(content, str):
        raise InvalidArgument(f"`{where}.content` must be a string or a list of content parts", param=f"{where}.content")
    if role == "tool" and not message.get("tool_call_id"):
        raise InvalidArgument(f"`{where}.tool_call_id` is required for tool messages", param=f"{where}.tool_call_id")


def json_schema(schema: Any, param: str) -> None:
    """A schema the grammar compilers can rely on: an object that is a valid JSON Schema."""
    if not isinstance(schema, dict):
        raise InvalidArgument(f"`{param}` must be a JSON Schema object", param=param)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        raise InvalidArgument(
            f"`{param}` is not a valid JSON Schema: {exc.message}" + (f" (at {where})" if where else ""), param=param
        ) from None


def check_tool_count(count: int) -> None:
    if count > MAX_TOOLS:
        raise InvalidArgument(f"`tools` may hold at most {MAX_TOOLS} tools, got {count}", param="tools")


def _tools(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for index, tool in enumerate(body.get("tools") or []):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidArgument(f'`{where}` must be {{"type": "function", "function": {{...}}}}', param=where)
        name = function.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.match(name):
            raise InvalidArgument(
                f"`{where}.function.name` is required: 1-64 letters, digits, underscores or dashes", param=f"{where}.function.name"
            )
        if name in names:
            raise InvalidArgument(f"`{where}.function.name` repeats the tool name {name!r}", param=f"{where}.function.name")
        names.append(name)
        if function.get("parameters") is not None:
            if len(json.dumps(function["parameters"])) > MAX_SCHEMA_CHARS:
                raise InvalidArgument(
                    f"`{where}.function.parameters` is larger than {MAX_SCHEMA_CHARS // 1024} KiB of JSON", param=f"{where}.function.parameters"
                )
            json_schema(function["parameters"], f"{where}.function.parameters")
    return names


def _tool_choice(body: dict[str, Any], names: list[str]) -> None:
    choice = body.get("tool_choice")
    if choice is None or choice in TOOL_CHOICES:
        if choice == "required" and not names:
            raise InvalidArgument("`tool_choice` is `required` but the request has no `tools`", param="tool_choice")
        return
    function = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or choice.get("type") != "function" or not isinstance(function, dict):
        raise InvalidArgument(
            '`tool_choice` must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}', param="tool_choice"
        )
    if function.get("name") not in names:
        raise InvalidArgument(
            f"`tool_choice.function.name` {function.get('name')!r} is not one of the request's tools: {', '.join(names) or 'none'}",
            param="tool_choice",
        )


def _response_format(body: dict[str, Any]) -> str | None:
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in RESPONSE_FORMATS:
        raise InvalidArgument(f"`response_format.type` must be one of {', '.join(RESPONSE_FORMATS)}", param="response_format")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise InvalidArgument("`response_format.json_schema` is required for type json_schema", param="response_format")
        if spec.get("schema") is not None:
            json_schema(spec["schema"], "response_format.json_schema.schema")
    return kind


def _extras(body: dict[str, Any], constrained_by: str | None) -> None:
    """vLLM's extra sampling and guided-decoding fields."""
    if body.get("top_k") is not None and body["top_k"] < -1:
        raise InvalidArgument(f"`top_k` must be -1 (off) or more, got {body['top_k']}", param="top_k")
    _range(body, "min_p", 0, 1)
    penalty = body.get("repetition_penalty")
    if penalty is not None and not 0 < penalty <= 2:
        raise InvalidArgument(f"`repetition_penalty` must be above 0 and at most 2, got {penalty:g}", param="repetition_penalty")
    guided = [name for name in GUIDED if body.get(name) not in (None, "", [])]
    if len(guided) > 1:
        raise InvalidArgument(f"give at most one of {', '.join(GUIDED)}, got {', '.join(guided)}", param=guided[1])
    if not guided:
        return
    if constrained_by:
        raise InvalidArgument(f"`{guided[0]}` cannot be combined with `{constrained_by}`", param=guided[0])
    if "guided_json" in guided:
        json_schema(body["guided_json"], "guided_json")
    if "guided_regex" in guided:
        try:
            re.compile(body["guided_regex"])
        except re.error as exc:
            raise InvalidArgument(f"`guided_regex` is not a valid regular expression: {exc}", param="guided_regex") from None
    if "guided_choice" in guided and not all(body["guided_choice"]):
        raise InvalidArgument("`guided_choice` entries must be non-empty strings", param="guided_choice")


def _sampling(body: dict[str, Any], max_n: int) -> None:
    _range(body, "temperature", 0, 2)
    _range(body, "top_p", 0, 1)
    _range(body, "presence_penalty", -2, 2)
    _range(body, "frequency_penalty", -2, 2)
    _range(body, "n", 1, max_n)
    for name in ("max_tokens", "max_completion_tokens"):
        if body.get(name) is not None and body[name] < 1:
            raise InvalidArgument(f"`{name}` must be at least 1, got {body[name]}", param=name)
    for token, bias in (body.get("logit_bias") or {}).items():
        if not token.lstrip("-").isdigit():
            raise InvalidArgument(f"`logit_bias` keys must be token ids, got {token!r}", param="logit_bias")
        if not -100 <= bias <= 100:
            raise InvalidArgument(f"`logit_bias[{token}]` must be between -100 and 100", param="logit_bias")
    _stop(body)


def validate_chat(body: dict[str, Any], max_n: int = 8) -> None:
    """The request past its model, which the servicer resolved first."""
    messages = body.get("messages")
    if not messages:
        raise InvalidArgument("`messages` is required and must be a non-empty list of messages", param="messages")
    for index, message in enumerate(messages):
        _message(index, message)
    _sampling(body, max_n)
    _range(body, "top_logprobs", 0, 20)
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise InvalidArgument("`top_logprobs` needs `logprobs: true`", param="top_logprobs")
    names = _tools(body)
    _tool_choice(body, names)
    kind = _response_format(body)
    tools_active = bool(names) and body.get("tool_choice") != "none"
    _extras(body, "tools" if tools_active else "response_format" if kind in ("json_object", "json_schema") else None)


def validate_completion(body: dict[str, Any], max_n: int = 8) -> None:
    if not body.get("model"):
        raise InvalidArgument("`model` is required", param="model")
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if not prompt or not all(isinstance(p, str) for p in prompt):
            raise InvalidArgument("`prompt` must be a string or a non-empty list of strings", param="prompt")
    elif not isinstance(prompt, str):
        raise InvalidArgument("`prompt` is required: a string or a list of strings", param="prompt")
    _sampling(body, max_n)
    choices = (len(prompt) if isinstance(prompt, list) else 1) * body.get("n", 1)
    if choices > MAX_COMPLETION_CHOICES:
        raise InvalidArgument(
            f"`prompt` × `n` asks for {choices} completions; one request may ask for at most {MAX_COMPLETION_CHOICES}", param="prompt"
        )
    _range(body, "logprobs", 0, 5)
    _extras(body, None)


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    if not body.get("model"):
        raise InvalidArgument("`model` is required", param="model")
    value = body.get("input")
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument("`input` is required: a string or a non-empty list of strings", param="input")
    for index, item in enumerate(inputs):
        if not isinstance(item, str):
            raise InvalidArgument(f"`input[{index}]` must be a string (token-id inputs are not supported)", param="input")
        if not item:
            raise InvalidArgument(f"`input[{index}]` must not be empty", param="input")
    if len(inputs) > 2048:
        raise InvalidArgument("`input` may hold at most 2048 items", param="input")
    if body.get("encoding_format") not in (None, "", "float", "base64"):
        raise InvalidArgument("`encoding_format` must be `float` or `base64`", param="encoding_format")
    if body.get("dimensions") is not None and body["dimensions"] < 1:
        raise InvalidArgument("`dimensions` must be at least 1", param="dimensions")
    return inputs
