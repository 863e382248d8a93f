"""Conversions between protobuf messages and the OpenAI JSON dicts providers speak."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64}


def request_to_dict(message: Message) -> dict[str, Any]:
    """The request as OpenAI JSON: only fields the caller set, 64-bit ints as numbers."""
    body = json_format.MessageToDict(message, preserving_proto_field_name=True)
    for field in message.DESCRIPTOR.fields:
        if field.type in _INT64 and field.name in body:
            body[field.name] = int(body[field.name])
    return body


def dict_to_message(data: dict[str, Any], message_type: type[M]) -> M:
    """Parses a provider's OpenAI JSON, ignoring provider extras such as llama.cpp timings."""
    return json_format.ParseDict(data, message_type(), ignore_unknown_fields=True)


def message_to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
