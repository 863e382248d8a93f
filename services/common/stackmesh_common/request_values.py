"""Values no request may hold, refused up front naming the field, rather than failing as an
internal error wherever they land: NUL characters (PostgreSQL's text and jsonb store none) and
non-finite numbers (JSON has no NaN or Infinity; proto3 JSON reads them from the strings
"NaN" and "Infinity", and they fail range checks and JSON encoders downstream)."""

from __future__ import annotations

import math

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

NUL = "\x00"
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
# Every NUL is a 0 byte in the encoding, and every NaN or infinity (double or float, either
# sign) ends in an exponent byte 0x7f or 0xff; an encoding without these skips the walk.
_SUSPECT_BYTES = (b"\x00", b"\x7f", b"\xff")


def may_hold_bad_values(raw: bytes) -> bool:
    return any(byte in raw for byte in _SUSPECT_BYTES)


def bad_value(message: Message, path: str = "") -> tuple[str, str] | None:
    """(path, what is wrong) of the first NUL or non-finite number in `message`, the path in the
    style of error params (`messages[0].content`, `metadata.key`), or None."""
    kind = message.DESCRIPTOR.full_name
    if kind == "google.protobuf.Struct":
        for key, value in message.fields.items():
            found = (path, _NUL_MESSAGE) if NUL in key else bad_value(value, _join(path, key))
            if found is not None:
                return found
        return None
    if kind == "google.protobuf.ListValue":
        return next((found for i, value in enumerate(message.values) if (found := bad_value(value, f"{path}[{i}]")) is not None), None)
    if kind == "google.protobuf.Value":
        which = message.WhichOneof("kind")
        if which in ("string_value", "number_value"):
            return _scalar(getattr(message, which), path)
        return bad_value(getattr(message, which), path) if which in ("struct_value", "list_value") else None
    for field, value in message.ListFields():
        name = _join(path, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = [((name, _NUL_MESSAGE) if isinstance(key, str) and NUL in key else None, item, _join(name, str(key))) for key, item in value.items()]
        elif field.is_repeated:
            items = [(None, item, f"{name}[{i}]") for i, item in enumerate(value)]
        else:
            items = [(None, value, name)]
        for bad_key, item, item_path in items:
            found = bad_key or (bad_value(item, item_path) if isinstance(item, Message) else _scalar(item, item_path))
            if found is not None:
                return found
    return None


_NUL_MESSAGE = "holds a NUL character (\\u0000), which cannot be stored"


def _scalar(value: object, path: str) -> tuple[str, str] | None:
    if isinstance(value, str) and NUL in value:
        return path, _NUL_MESSAGE
    if isinstance(value, float) and not math.isfinite(value):
        return path, f"must be a finite number, got {value}"
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
