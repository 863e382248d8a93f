"""Conversions between protobuf messages and the OpenAI JSON dicts providers speak."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64}
_JSON_VALUES = {"google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue"}


def _whole_numbers(value: Any) -> Any:
    """google.protobuf.Value holds every number as a double; JSON Schemas (`maxLength: 20`)
    and tool arguments need their integers back, and JSON does not tell 20.0 from 20."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def request_to_dict(message: Message) -> dict[str, Any]:
    """The request as OpenAI JSON: only fields the caller set, integers as integers."""
    body = json_format.MessageToDict(message, preserving_proto_field_name=True)
    for field in message.DESCRIPTOR.fields:
        if field.type in _INT64 and field.name in body:
            body[field.name] = int(body[field.name])
        elif field.message_type is not None and field.message_type.full_name in _JSON_VALUES and field.name in body:
            body[field.name] = _whole_numbers(body[field.name])
    return body


def dict_to_message(data: dict[str, Any], message_type: type[M]) -> M:
    """Parses a provider's OpenAI JSON, ignoring provider extras such as llama.cpp timings."""
    return json_format.ParseDict(data, message_type(), ignore_unknown_fields=True)


def message_to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def legacy_logprobs(logprobs: dict[str, Any], offset: int) -> tuple[dict[str, Any], int]:
    """Text-completion logprobs in OpenAI's legacy shape (tokens, token_logprobs, top_logprobs,
    text_offset) from the chat shape llama.cpp answers with; `offset` is where this piece's
    text starts in the whole completion. Returns the converted logprobs and the next offset."""
    if "content" not in logprobs:
        return logprobs, offset
    converted: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for entry in logprobs["content"] or []:
        converted["tokens"].append(entry["token"])
        converted["token_logprobs"].append(entry["logprob"])
        converted["top_logprobs"].append({top["token"]: top["logprob"] for top in entry.get("top_logprobs", [])})
        converted["text_offset"].append(offset)
        offset += len(entry["token"])
    return converted, offset
