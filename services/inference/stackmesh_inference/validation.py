"""Checks of OpenAI request bodies, each failure naming the offending field.

Envoy's transcoder already rejects malformed JSON and wrong scalar types; these checks
cover what a schema-less `google.protobuf.Value` field or a range allows through.
"""

from __future__ import annotations

from typing import Any

from stackmesh_common.errors import InvalidArgument

ROLES = ("system", "developer", "user", "assistant", "tool")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


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


def _tools(body: dict[str, Any]) -> None:
    for index, tool in enumerate(body.get("tools") or []):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidArgument(f'`{where}` must be {{"type": "function", "function": {{...}}}}', param=where)
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidArgument(f"`{where}.function.name` is required", param=f"{where}.function.name")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidArgument(f"`{where}.function.parameters` must be a JSON Schema object", param=f"{where}.function.parameters")


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
    if not body.get("model"):
        raise InvalidArgument("`model` is required", param="model")
    messages = body.get("messages")
    if not messages:
        raise InvalidArgument("`messages` is required and must be a non-empty list of messages", param="messages")
    for index, message in enumerate(messages):
        _message(index, message)
    _sampling(body, max_n)
    _range(body, "top_logprobs", 0, 20)
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise InvalidArgument("`top_logprobs` needs `logprobs: true`", param="top_logprobs")
    _tools(body)
    response_format = body.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in RESPONSE_FORMATS:
            raise InvalidArgument(f"`response_format.type` must be one of {', '.join(RESPONSE_FORMATS)}", param="response_format")
        if kind == "json_schema" and not isinstance(response_format.get("json_schema"), dict):
            raise InvalidArgument("`response_format.json_schema` is required for type json_schema", param="response_format")


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
    _range(body, "logprobs", 0, 5)


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
