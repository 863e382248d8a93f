"""The OpenAPI 3.1 document of the gateway's REST API, generated from the descriptor set.

Every google.api.http binding (additional_bindings included) is one operation, described as
the transcoder serves it: path variables, the request fields left over as query parameters,
the body, the output message as JSON, and streams as server-sent events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Collection

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from stackmesh.common.v1 import access_pb2
from stackmesh_gateway.descriptor import API_FAMILY, HTTP_BODY
from stackmesh_gateway.schemas import WELL_KNOWN, Catalog, F, Schema, SchemaSet, is_map, permissive

OPENAPI_PATH = "/v1/openapi.json"
ERROR_RESPONSE = {"$ref": "#/components/responses/Error"}
# `{field.path}` or `{field.path=segments/**}` in a google.api.http path template.
_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")
# Query parameters reach into nested messages with dotted names; this deep is plenty.
_MAX_QUERY_DEPTH = 3
# Query strings carry scalars only: these well-known messages are read from their JSON string.
_QUERY_WELL_KNOWN = {name for name, schema in WELL_KNOWN.items() if schema.get("type") in ("string", "boolean", "integer", ["integer", "string"]) or "oneOf" in schema}

DESCRIPTION = """\
The REST face of stackmesh: every operation is a gRPC method, transcoded by the gateway
(Envoy) with protobuf's proto3 JSON mapping. Property names are the proto field names
(lowerCamel names are read too); `null` reads as an unset field; 64-bit integers are
printed as strings; enums are their value names; bytes are base64. Errors are OpenAI's
envelope `{"error": {"message", "type", "param", "code"}}`. A POST whose path also has a
`:stream` twin streams server-sent events when its body says `"stream": true`.
"""


@dataclass(frozen=True)
class Binding:
    verb: str
    path: str  # the google.api.http template
    body: str  # "", "*" or a field name
    response_body: str


def _bindings(rule: http_pb2.HttpRule) -> list[Binding]:
    out = []
    for binding in [rule, *rule.additional_bindings]:
        pattern = binding.WhichOneof("pattern")
        if pattern == "custom":
            out.append(Binding(binding.custom.kind.upper(), binding.custom.path, binding.body, binding.response_body))
        elif pattern:
            out.append(Binding(pattern.upper(), getattr(binding, pattern), binding.body, binding.response_body))
    return out


def _http_rule(method: descriptor_pb2.MethodDescriptorProto) -> tuple[http_pb2.HttpRule, descriptor_pb2.MethodOptions]:
    # Extensions are unknown fields until parsed with the annotation registered.
    options = descriptor_pb2.MethodOptions.FromString(method.options.SerializeToString())
    rule = options.Extensions[annotations_pb2.http] if options.HasExtension(annotations_pb2.http) else http_pb2.HttpRule()
    return rule, options


def _version() -> str:
    try:
        return metadata.version("stackmesh-gateway")
    except metadata.PackageNotFoundError:
        return "0"


class _Builder:
    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.catalog = Catalog.of(files)
        self.schemas = SchemaSet(self.catalog)
        self.paths: dict[str, dict[str, Any]] = {}
        # Template shape ("/v1/models/{}") -> the OpenAPI path first written for it: OpenAPI
        # forbids two paths that differ only in their variables' names.
        self.shapes: dict[str, str] = {}
        self.operation_ids: set[str] = set()

    def openapi_path(self, template: str) -> tuple[str, list[tuple[str, str, str]]]:
        """The OpenAPI path of a template, and (OpenAPI name, field path, segments) per variable."""
        variables = [(m.group(1), m.group(2) or "*") for m in _VARIABLE.finditer(template)]
        shape = _VARIABLE.sub("{}", template)
        if shape not in self.shapes:
            self.shapes[shape] = _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", template)
        path = self.shapes[shape]
        names = _VARIABLE.findall(path)
        return path, [(name[0], field, segments) for name, (field, segments) in zip(names, variables)]

    def operation_id(self, full_name: str) -> str:
        candidate, n = full_name, 1
        while candidate in self.operation_ids:
            n += 1
            candidate = f"{full_name}_{n}"
        self.operation_ids.add(candidate)
        return candidate

    def path_parameter(self, input_type: str, name: str, field_path: str, segments: str) -> dict[str, Any]:
        f = self.catalog.field_at(input_type, field_path)
        schema = self.schemas.field_schema(input_type, f) if f is not None else permissive(f"no field {field_path}")
        description = schema.pop("description", "")
        if f is None:
            description = f"Binds {field_path}, which {input_type} does not have."
        if name != field_path:
            description += f"\n\nBinds the field `{field_path}`."
        if "*" in segments.replace("*", "", 1) or "/" in segments:
            description += "\n\nMay contain `/` (send it as %2F)."
        if schema.get("type") == "string":
            schema["minLength"] = 1
        return {"name": name, "in": "path", "required": True, "schema": schema, "description": description.strip()}

    def query_parameters(self, message: str, prefix: str, skip: set[str], unmapped: list[str], depth: int = 0) -> list[dict[str, Any]]:
        """The transcoder's query parameters: every field not bound by the path or the body."""
        params = []
        for f in self.catalog.messages[message].field:
            name = prefix + f.name
            if name in skip:
                continue
            repeated = f.label == F.LABEL_REPEATED
            nested = f.type == F.TYPE_MESSAGE and f.type_name not in _QUERY_WELL_KNOWN
            if is_map(self.catalog, f) or (nested and repeated):
                unmapped.append(name)
            elif nested and f.type_name in self.catalog.messages and depth < _MAX_QUERY_DEPTH and f.type_name not in WELL_KNOWN:
                params += self.query_parameters(f.type_name, f"{name}.", skip, unmapped, depth + 1)
            elif nested:
                unmapped.append(name)
            else:
                schema = self.schemas.field_schema(message, f)
                description = schema.pop("description", "")
                param = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
                if repeated:
                    param |= {"style": "form", "explode": True}
                params.append(param)
        return params

    def request_body(self, method: descriptor_pb2.MethodDescriptorProto, binding: Binding, path_fields: set[str], comment: str) -> dict[str, Any] | None:
        if method.client_streaming and method.input_type == HTTP_BODY:
            return _upload_body(comment)
        if not binding.body:
            return None
        if method.input_type == HTTP_BODY:
            return {"content": {"*/*": {"schema": {}}}, "description": "The raw body, passed to the service as is."}
        if binding.body == "*":
            top_level = frozenset(p for p in path_fields if "." not in p)
            if top_level:
                schema = self.schemas.message_schema(method.input_type, exclude=top_level)
            else:
                schema = self.schemas.type_schema(method.input_type)
        else:
            f = self.catalog.field_at(method.input_type, binding.body)
            schema = self.schemas.field_schema(method.input_type, f) if f else permissive(f"body names no field {binding.body}")
        # The transcoder reads an absent body as an empty message.
        return {"required": False, "content": {"application/json": {"schema": schema}}}

    def response(self, method: descriptor_pb2.MethodDescriptorProto, binding: Binding) -> dict[str, Any]:
        if method.output_type == HTTP_BODY:
            if binding.verb == "GET" or not method.server_streaming:
                return {"description": "The raw content, with the Content-Type it was stored with.", "content": {"*/*": {"schema": {}}}}
            return _sse("Server-sent events: `data: {json}` chunks, ending with `data: [DONE]`.")
        if binding.response_body:
            f = self.catalog.field_at(method.output_type, binding.response_body)
            schema = self.schemas.field_schema(method.output_type, f) if f else permissive(f"response_body names no field {binding.response_body}")
        else:
            schema = self.schemas.type_schema(method.output_type)
        if method.server_streaming:
            event = _sse(f"Server-sent events, each `data: <{method.output_type.lstrip('.')} as JSON>`.")
            event["content"]["text/event-stream"]["x-stackmesh-event-schema"] = schema
            return event
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}

    def add(self, package: str, service: str, method: descriptor_pb2.MethodDescriptorProto, binding: Binding, streams: set[str]) -> None:
        api = package.split(".")[1]
        full_name = f"{package}.{service}.{method.name}"
        comment = self.catalog.comments.get(f".{full_name}", "")
        path, variables = self.openapi_path(binding.path)
        path_fields = {field for _, field, _ in variables}
        notes = []
        parameters = [self.path_parameter(method.input_type, name, field, segments) for name, field, segments in variables]
        upload = method.client_streaming and method.input_type == HTTP_BODY
        if binding.body != "*" and not upload and method.input_type in self.catalog.messages:
            unmapped: list[str] = []
            bound = path_fields | ({binding.body} if binding.body else set())
            parameters += self.query_parameters(method.input_type, "", bound, unmapped)
            if unmapped:
                notes.append(f"Not settable over REST (no query form): {', '.join(unmapped)}.")
        _, options = _http_rule(method)
        admin = options.Extensions[access_pb2.access] == access_pb2.ACCESS_ADMIN
        if admin:
            notes.append("For operators: refused to other callers once authentication is on.")
        responses = {"200": self.response(method, binding)}
        if binding.verb == "POST" and binding.path in streams:
            responses["200"]["content"] |= _sse("")["content"]
            notes.append('With `"stream": true` in the body the answer is server-sent events (see the `:stream` operation).')
        operation: dict[str, Any] = {
            "operationId": self.operation_id(full_name),
            "tags": [API_FAMILY.get(api, api)],
            "summary": _first_sentence(comment),
            "description": "\n\n".join([comment, *notes]).strip(),
            "x-grpc-method": f"/{package}.{service}/{method.name}",
            "parameters": parameters,
            "responses": {**responses, "4XX": ERROR_RESPONSE, "5XX": ERROR_RESPONSE},
        }
        if admin:
            operation["x-stackmesh-access"] = "admin"
        body = self.request_body(method, binding, path_fields, comment)
        if body:
            operation["requestBody"] = body
        verb = binding.verb.lower()
        item = self.paths.setdefault(path, {})
        if verb in item:
            # Two methods on one route: the transcoder serves the first; say so rather than drop one.
            item[verb]["description"] += f"\n\nThe same route is also bound by {full_name}, which the gateway does not reach."
            return
        item[verb] = operation


def _first_sentence(comment: str) -> str:
    # Comments wrap mid-sentence: join the lines first.
    return " ".join(comment.split()).split(". ")[0].rstrip(".")


def _sse(description: str) -> dict[str, Any]:
    return {"description": description or "Server-sent events.", "content": {"text/event-stream": {"schema": {"type": "string"}}}}


def _upload_body(comment: str) -> dict[str, Any]:
    """A body streamed to the service as it arrives (`stream google.api.HttpBody`)."""
    if "multipart" in comment:
        # OpenAI's upload forms carry the content in a part named `file`, the rest as text fields.
        schema: Schema = {
            "type": "object",
            "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
            "additionalProperties": {"type": "string"},
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}, "description": comment}
    return {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}


def _gateway_paths() -> dict[str, Any]:
    """The routes the gateway answers itself."""
    return {
        "/healthz": {
            "get": {
                "operationId": "stackmesh.gateway.Healthz",
                "tags": ["gateway"],
                "summary": "Liveness of the gateway",
                "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        },
        OPENAPI_PATH: {
            "get": {
                "operationId": "stackmesh.gateway.OpenApi",
                "tags": ["gateway"],
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
            }
        },
    }


def _error_components() -> dict[str, Any]:
    error = {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string", "description": "OpenAI's error type, e.g. invalid_request_error."},
            "param": {"type": ["string", "null"], "description": "The request field at fault, if one is."},
            "code": {"type": ["string", "null"], "description": "A machine-readable reason, e.g. not_found."},
        },
    }
    envelope = {"type": "object", "required": ["error"], "additionalProperties": False, "properties": {"error": error}}
    return {
        "schemas": {"stackmesh.ErrorEnvelope": envelope},
        "responses": {
            "Error": {"description": "OpenAI's error envelope.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/stackmesh.ErrorEnvelope"}}}}
        },
    }


def build_openapi(descriptor: Path, services: Collection[str] | None = None) -> dict[str, Any]:
    """The OpenAPI document of the stackmesh services in the descriptor set (only those named
    in `services`, full names, when given: the ones a distribution deploys)."""
    files = list(descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file)
    builder = _Builder(files)
    routes = []
    for file in files:
        if not file.package.startswith("stackmesh."):
            continue
        for service in file.service:
            if services is not None and f"{file.package}.{service.name}" not in services:
                continue
            for method in service.method:
                for binding in _bindings(_http_rule(method)[0]):
                    routes.append((file.package, service.name, method, binding))
    streams = {b.path.removesuffix(":stream") for *_, b in routes if b.verb == "POST" and b.path.endswith(":stream")}
    for package, service, method, binding in routes:
        builder.add(package, service, method, binding, streams)
    errors = _error_components()
    tags = sorted({tag for item in builder.paths.values() for op in item.values() for tag in op["tags"]} | {"gateway"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "stackmesh", "version": _version(), "description": DESCRIPTION},
        "tags": [{"name": tag} for tag in tags],
        "paths": {**_gateway_paths(), **builder.paths},
        "components": {"schemas": {**errors["schemas"], **dict(sorted(builder.schemas.components.items()))}, "responses": errors["responses"]},
    }
