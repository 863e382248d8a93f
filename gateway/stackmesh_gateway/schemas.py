"""JSON Schemas of protobuf messages as the gateway's transcoder reads and prints them.

The transcoder speaks protobuf's proto3 JSON mapping with `preserve_proto_field_names`, so
properties are proto field names (it also reads lowerCamel names, which are not listed).
Schemas are shared by requests and responses: nothing is `required` (proto3 has no required
fields; the "Required." in a field's description is the service's rule, enforced with a 400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from google.protobuf import descriptor_pb2

Schema = dict[str, Any]
F = descriptor_pb2.FieldDescriptorProto

COMPONENT_REF = "#/components/schemas/"
_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 2**32 - 1}
# 64-bit integers are printed as decimal strings (JavaScript numbers lose precision past 2**53);
# either form is read.
_INT64 = {"type": ["integer", "string"], "format": "int64", "pattern": "^-?[0-9]+$", "minimum": -(2**63), "maximum": 2**63 - 1}
_UINT64 = {"type": ["integer", "string"], "format": "uint64", "pattern": "^[0-9]+$", "minimum": 0, "maximum": 2**64 - 1}
# Non-finite floats have no JSON number: proto3 JSON spells them as these strings.
_NUMBER = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_BYTES = {"type": "string", "contentEncoding": "base64", "description": "Base64 (standard or URL-safe alphabet)."}

SCALARS: dict[int, Schema] = {
    F.TYPE_DOUBLE: _NUMBER,
    F.TYPE_FLOAT: _NUMBER,
    F.TYPE_INT32: _INT32,
    F.TYPE_SINT32: _INT32,
    F.TYPE_SFIXED32: _INT32,
    F.TYPE_UINT32: _UINT32,
    F.TYPE_FIXED32: _UINT32,
    F.TYPE_INT64: _INT64,
    F.TYPE_SINT64: _INT64,
    F.TYPE_SFIXED64: _INT64,
    F.TYPE_UINT64: _UINT64,
    F.TYPE_FIXED64: _UINT64,
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: _BYTES,
}

# The well-known types have a JSON form of their own, not that of their fields.
WELL_KNOWN: dict[str, Schema] = {
    ".google.protobuf.Struct": {"type": "object", "description": "Any JSON object."},
    ".google.protobuf.Value": {"description": "Any JSON value."},
    ".google.protobuf.ListValue": {"type": "array", "description": "Any JSON array."},
    ".google.protobuf.NullValue": {"type": "null"},
    ".google.protobuf.Empty": {"type": "object", "properties": {}, "additionalProperties": False},
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339, e.g. 2024-01-31T12:00:00Z."},
    ".google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "description": "Seconds with an `s` suffix, e.g. 1.5s."},
    ".google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated lowerCamel field paths."},
    ".google.protobuf.Any": {
        "type": "object",
        "required": ["@type"],
        "properties": {"@type": {"type": "string"}},
        "description": "A message of the type named by `@type`, with its fields beside it.",
    },
    ".google.protobuf.DoubleValue": _NUMBER,
    ".google.protobuf.FloatValue": _NUMBER,
    ".google.protobuf.Int64Value": _INT64,
    ".google.protobuf.UInt64Value": _UINT64,
    ".google.protobuf.Int32Value": _INT32,
    ".google.protobuf.UInt32Value": _UINT32,
    ".google.protobuf.BoolValue": {"type": "boolean"},
    ".google.protobuf.StringValue": {"type": "string"},
    ".google.protobuf.BytesValue": _BYTES,
}


def permissive(reason: str) -> Schema:
    """What a construct without a JSON Schema mapping gets: any value, and why."""
    return {"description": f"Not mapped to a JSON Schema ({reason}); any JSON value is documented."}


def _clean(comment: str) -> str:
    return "\n".join(line.strip() for line in comment.strip().splitlines()).strip()


@dataclass
class Catalog:
    """The messages, enums and comments of a descriptor set, by full name (".pkg.Name")."""

    messages: dict[str, descriptor_pb2.DescriptorProto] = field(default_factory=dict)
    enums: dict[str, descriptor_pb2.EnumDescriptorProto] = field(default_factory=dict)
    # Leading comments of messages, enums, fields ("<message>.<field>"), services and methods.
    comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> Catalog:
        catalog = cls()
        for file in files:
            by_path = {tuple(loc.path): _clean(loc.leading_comments) for loc in file.source_code_info.location if loc.leading_comments.strip()}
            prefix = f".{file.package}" if file.package else ""
            # Source-info paths: 4 = message_type, 5 = enum_type, 6 = service (FileDescriptorProto
            # field numbers); inside a message 2 = field, 3 = nested_type, 4 = enum_type.
            for i, message in enumerate(file.message_type):
                catalog._add_message(message, prefix, (4, i), by_path)
            for i, enum in enumerate(file.enum_type):
                catalog._add_enum(enum, prefix, (5, i), by_path)
            for i, service in enumerate(file.service):
                name = f"{prefix}.{service.name}"
                catalog._comment(name, by_path, (6, i))
                for j, method in enumerate(service.method):
                    catalog._comment(f"{name}.{method.name}", by_path, (6, i, 2, j))
        return catalog

    def _comment(self, name: str, by_path: dict[tuple[int, ...], str], path: tuple[int, ...]) -> None:
        if path in by_path:
            self.comments[name] = by_path[path]

    def _add_message(self, message: descriptor_pb2.DescriptorProto, prefix: str, path: tuple[int, ...], by_path: dict[tuple[int, ...], str]) -> None:
        name = f"{prefix}.{message.name}"
        self.messages[name] = message
        self._comment(name, by_path, path)
        for i, f in enumerate(message.field):
            self._comment(f"{name}.{f.name}", by_path, (*path, 2, i))
        for i, nested in enumerate(message.nested_type):
            self._add_message(nested, name, (*path, 3, i), by_path)
        for i, enum in enumerate(message.enum_type):
            self._add_enum(enum, name, (*path, 4, i), by_path)

    def _add_enum(self, enum: descriptor_pb2.EnumDescriptorProto, prefix: str, path: tuple[int, ...], by_path: dict[tuple[int, ...], str]) -> None:
        name = f"{prefix}.{enum.name}"
        self.enums[name] = enum
        self._comment(name, by_path, path)

    def field_at(self, message_name: str, field_path: str) -> F | None:
        """The field a dotted path ("a.b") of a message names, or None."""
        message = self.messages.get(message_name)
        found = None
        for part in field_path.split("."):
            if message is None:
                return None
            found = next((f for f in message.field if f.name == part), None)
            if found is None:
                return None
            message = self.messages.get(found.type_name) if found.type == F.TYPE_MESSAGE else None
        return found


def is_map(catalog: Catalog, f: F) -> bool:
    return f.type == F.TYPE_MESSAGE and f.label == F.LABEL_REPEATED and catalog.messages.get(f.type_name, descriptor_pb2.DescriptorProto()).options.map_entry


class SchemaSet:
    """Builds schemas on demand, putting each message and enum once in `components`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.components: dict[str, Schema] = {}

    def type_schema(self, type_name: str) -> Schema:
        """A message or enum type by its full name: a well-known form, or a $ref to its component."""
        if type_name in WELL_KNOWN:
            return dict(WELL_KNOWN[type_name])
        key = type_name.lstrip(".")
        if key not in self.components:
            if type_name in self.catalog.enums:
                self.components[key] = self._enum(type_name)
            elif type_name in self.catalog.messages:
                # Set before recursing: a message may contain itself (directly or not).
                self.components[key] = {}
                self.components[key] = self.message_schema(type_name)
            else:
                return permissive(f"type {type_name} is not in the descriptor set")
        return {"$ref": COMPONENT_REF + key}

    def _enum(self, type_name: str) -> Schema:
        enum = self.catalog.enums[type_name]
        schema: Schema = {"type": "string", "enum": [v.name for v in enum.value]}
        comment = self.catalog.comments.get(type_name)
        schema["description"] = (f"{comment}\n\n" if comment else "") + "Value names; their numbers are read too."
        return schema

    def message_schema(self, type_name: str, exclude: frozenset[str] = frozenset()) -> Schema:
        """The object schema of a message, without the top-level fields in `exclude`."""
        message = self.catalog.messages[type_name]
        properties = {f.name: self.field_schema(type_name, f) for f in message.field if f.name not in exclude}
        schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
        comment = self.catalog.comments.get(type_name)
        if comment:
            schema["description"] = comment
        # A real oneof (not proto3 `optional`'s synthetic one) takes at most one member.
        constraints = []
        for index, oneof in enumerate(message.oneof_decl):
            members = [f.name for f in message.field if f.HasField("oneof_index") and f.oneof_index == index and not f.proto3_optional and f.name not in exclude]
            if len(members) < 2:
                continue
            schema["description"] = (schema.get("description", "") + f"\n\nAt most one of {', '.join(members)} (oneof {oneof.name}).").strip()
            constraints += [{"not": {"required": [a, b]}} for i, a in enumerate(members) for b in members[i + 1 :]]
        if constraints:
            schema["allOf"] = constraints
        return schema

    def field_schema(self, message_name: str, f: F) -> Schema:
        if is_map(self.catalog, f):
            entry = self.catalog.messages[f.type_name]
            key, value = sorted(entry.field, key=lambda e: e.number)
            schema: Schema = {"type": "object", "additionalProperties": self._single(value)}
            if key.type == F.TYPE_BOOL:
                schema["propertyNames"] = {"enum": ["true", "false"]}
            elif key.type != F.TYPE_STRING:
                schema["propertyNames"] = {"pattern": "^-?[0-9]+$"}
        elif f.label == F.LABEL_REPEATED:
            schema = {"type": "array", "items": self._single(f)}
        else:
            schema = self._single(f)
        comment = self.catalog.comments.get(f"{message_name}.{f.name}")
        if comment:
            schema["description"] = f"{comment}\n\n{schema['description']}" if "description" in schema else comment
        return schema

    def _single(self, f: F) -> Schema:
        if f.type in SCALARS:
            return dict(SCALARS[f.type])
        if f.type in (F.TYPE_MESSAGE, F.TYPE_ENUM):
            return self.type_schema(f.type_name)
        return permissive(f"field {f.name} has protobuf type {F.Type.Name(f.type)}")
