"""What the gateway needs to know from the descriptor set: services, bindings, streams."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from stackmesh.common.v1 import access_pb2

# Proto package `stackmesh.<api>.v1` -> the service family (process) that hosts it, where
# the two names differ. Inspect is hosted by every service; the config picks one.
API_FAMILY = {"synthetic_data": "post_training"}
INSPECT_API = "inspect"
# A client-streaming RPC taking this type receives the raw HTTP request body as it arrives.
HTTP_BODY = ".google.api.HttpBody"


@dataclass(frozen=True)
class Method:
    name: str
    server_streaming: bool
    bindings: tuple[tuple[str, str], ...]  # (HTTP method, path)
    # `rpc X(stream google.api.HttpBody)`: an upload whose body must flow through unbuffered.
    streams_request_body: bool = False
    # A GET answered with raw HttpBody: stored content served as a download (SSE streams
    # return HttpBody too, but from POST bindings).
    serves_download: bool = False
    # Marked `(stackmesh.common.v1.access) = ACCESS_ADMIN`: for operators only once auth is on.
    admin: bool = False


@dataclass(frozen=True)
class GrpcService:
    full_name: str  # stackmesh.inference.v1.InferenceService
    api: str  # inference
    methods: tuple[Method, ...]


def _bindings(rule: http_pb2.HttpRule) -> list[tuple[str, str]]:
    out = []
    for binding in [rule, *rule.additional_bindings]:
        verb = binding.WhichOneof("pattern")
        if verb in ("get", "put", "post", "delete", "patch"):
            out.append((verb.upper(), getattr(binding, verb)))
    return out


def load_services(descriptor_path: Path) -> list[GrpcService]:
    """The stackmesh gRPC services in a descriptor set built with --include_imports."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes())
    services = []
    for file in files.file:
        if not file.package.startswith("stackmesh."):
            continue
        api = file.package.split(".")[1]
        for service in file.service:
            methods = []
            for method in service.method:
                options = descriptor_pb2.MethodOptions.FromString(method.options.SerializeToString())
                # Extensions are unknown fields until parsed with the annotation registered.
                rule = options.Extensions[annotations_pb2.http] if options.HasExtension(annotations_pb2.http) else http_pb2.HttpRule()
                raw_body = method.client_streaming and method.input_type == HTTP_BODY
                bindings = tuple(_bindings(rule))
                download = method.output_type == HTTP_BODY and bool(bindings) and all(verb == "GET" for verb, _ in bindings)
                admin = options.Extensions[access_pb2.access] == access_pb2.ACCESS_ADMIN
                methods.append(Method(method.name, method.server_streaming, bindings, raw_body, download, admin))
            services.append(GrpcService(f"{file.package}.{service.name}", api, tuple(methods)))
    return services


def stream_paths(services: list[GrpcService]) -> list[str]:
    """Upstream paths whose `"stream": true` requests go to a `<path>:stream` binding."""
    paths = set()
    for service in services:
        for method in service.methods:
            for verb, path in method.bindings:
                if verb == "POST" and path.endswith(":stream"):
                    paths.add(path.removesuffix(":stream"))
    return sorted(paths)


def upload_bindings(services: list[GrpcService]) -> list[tuple[GrpcService, str, str]]:
    """(service, HTTP method, path) of every binding whose request body streams to the service."""
    return [
        (service, verb, path)
        for service in services
        for method in service.methods
        if method.streams_request_body
        for verb, path in method.bindings
    ]
