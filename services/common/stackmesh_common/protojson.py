"""Protobuf ⇄ JSON the way the gateway does it, so every service speaks the same JSON.

The gateway prints responses with proto field names and unset scalars shown, and parses
requests ignoring unknown fields; code that builds or reads the same JSON itself (SSE
events, batch output lines, stored objects, polymorphic `Value` fields) uses these.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64}
_JSON_VALUES = {"google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue"}


def to_json(message: Message) -> dict[str, Any]:
    """What the gateway prints for a response: proto field names, defaults shown."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def from_json(data: dict[str, Any], message_type: type[M]) -> M:
    """What the gateway parses from a request body: unknown fields ignored (raises ParseError)."""
    return json_format.ParseDict(data, message_type(), ignore_unknown_fields=True)


def plain(message: Message) -> Any:
    """A message's JSON with only what is set — for Struct and Value, the JSON they hold."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def whole_numbers(value: Any) -> Any:
    """google.protobuf.Value holds every number as a double; JSON Schemas (`maxLength: 20`)
    and tool arguments need their integers back, and JSON does not tell 20.0 from 20."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def request_to_dict(message: Message) -> dict[str, Any]:
    """A request as OpenAI JSON: only fields the caller set, integers as integers, also in
    typed sub-messages (a chat message's content, a tool's parameters schema)."""
    return _restore_numbers(message, plain(message))


def _restore_numbers(message: Message, body: dict[str, Any]) -> dict[str, Any]:
    for field in message.DESCRIPTOR.fields:
        if field.name not in body:
            continue
        if field.type in _INT64:
            body[field.name] = [int(v) for v in body[field.name]] if field.is_repeated else int(body[field.name])
        elif field.message_type is None:
            continue
        elif field.message_type.full_name in _JSON_VALUES:
            body[field.name] = whole_numbers(body[field.name])
        elif not field.message_type.GetOptions().map_entry:
            value = getattr(message, field.name)
            if field.is_repeated:
                body[field.name] = [_restore_numbers(m, d) for m, d in zip(value, body[field.name])]
            else:
                body[field.name] = _restore_numbers(value, body[field.name])
    return body
