"""The contracts: buf lint, no breaking change since the release, the published bundle,
fresh generated stubs, typed shapes, and every REST route of API_SURFACE bound."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import grpc_tools
import pytest
from google.protobuf import descriptor_pb2

from stackmesh_gateway.descriptor import load_services

REPO = Path(__file__).resolve().parents[2]
CODEGEN = REPO / "protos" / "codegen.py"

# Every route of shared/API_SURFACE.md, as (method, path) with path parameters as {}.
OPENAI_COMPATIBLE = [
    ("GET", "/v1/models"), ("GET", "/v1/models/{}"), ("POST", "/v1/models"), ("DELETE", "/v1/models/{}"),
    ("POST", "/v1/chat/completions"), ("GET", "/v1/chat/completions"), ("GET", "/v1/chat/completions/{}"),
    ("GET", "/v1/chat/completions/{}/messages"), ("POST", "/v1/completions"), ("POST", "/v1/embeddings"),
    ("POST", "/v1/files"), ("GET", "/v1/files"), ("GET", "/v1/files/{}"), ("DELETE", "/v1/files/{}"), ("GET", "/v1/files/{}/content"),
    ("POST", "/v1/vector_stores"), ("GET", "/v1/vector_stores"), ("GET", "/v1/vector_stores/{}"),
    ("POST", "/v1/vector_stores/{}"), ("DELETE", "/v1/vector_stores/{}"), ("POST", "/v1/vector_stores/{}/files"),
    ("GET", "/v1/vector_stores/{}/files"), ("GET", "/v1/vector_stores/{}/files/{}"), ("POST", "/v1/vector_stores/{}/files/{}"),
    ("DELETE", "/v1/vector_stores/{}/files/{}"), ("GET", "/v1/vector_stores/{}/files/{}/content"),
    ("POST", "/v1/vector_stores/{}/file_batches"), ("GET", "/v1/vector_stores/{}/file_batches/{}"),
    ("POST", "/v1/vector_stores/{}/file_batches/{}/cancel"), ("GET", "/v1/vector_stores/{}/file_batches/{}/files"),
    ("POST", "/v1/vector_stores/{}/search"),
    ("POST", "/v1/responses"), ("GET", "/v1/responses"), ("GET", "/v1/responses/{}"), ("DELETE", "/v1/responses/{}"),
    ("GET", "/v1/responses/{}/input_items"), ("POST", "/v1/responses/{}/cancel"),
    ("POST", "/v1/conversations"), ("GET", "/v1/conversations/{}"), ("POST", "/v1/conversations/{}"),
    ("DELETE", "/v1/conversations/{}"), ("GET", "/v1/conversations/{}/items"), ("POST", "/v1/conversations/{}/items"),
    ("GET", "/v1/conversations/{}/items/{}"), ("DELETE", "/v1/conversations/{}/items/{}"),
    ("POST", "/v1/moderations"),
    ("POST", "/v1/batches"), ("GET", "/v1/batches"), ("GET", "/v1/batches/{}"), ("POST", "/v1/batches/{}/cancel"),
]
# Bound under /v1/openai/v1 too, except Llama Stack's own model registration routes.
LEGACY_EXEMPT = {("POST", "/v1/models"), ("DELETE", "/v1/models/{}")}
LLAMA_STACK = [
    ("GET", "/v1/health"), ("GET", "/v1/version"), ("GET", "/v1/providers"), ("GET", "/v1/providers/{}"),
    ("GET", "/v1/inspect/routes"),
    ("POST", "/v1/safety/run-shield"), ("GET", "/v1/shields"), ("POST", "/v1/shields"), ("GET", "/v1/shields/{}"),
    ("DELETE", "/v1/shields/{}"),
    ("POST", "/v1/vector-io/insert"), ("POST", "/v1/vector-io/query"),
    ("GET", "/v1/tools"), ("GET", "/v1/toolgroups"), ("POST", "/v1/toolgroups"), ("GET", "/v1/toolgroups/{}"),
    ("DELETE", "/v1/toolgroups/{}"), ("POST", "/v1/tool-runtime/invoke"), ("GET", "/v1/tool-runtime/list-tools"),
    ("POST", "/v1alpha/inference/rerank"),
    ("POST", "/v1alpha/agents"), ("GET", "/v1alpha/agents"), ("GET", "/v1alpha/agents/{}"), ("DELETE", "/v1alpha/agents/{}"),
    ("POST", "/v1alpha/agents/{}/session"), ("GET", "/v1alpha/agents/{}/sessions"),
    ("GET", "/v1alpha/agents/{}/session/{}"), ("DELETE", "/v1alpha/agents/{}/session/{}"),
    ("POST", "/v1alpha/agents/{}/session/{}/turn"), ("GET", "/v1alpha/agents/{}/session/{}/turn/{}"),
    ("POST", "/v1alpha/agents/{}/session/{}/turn/{}/resume"), ("GET", "/v1alpha/agents/{}/session/{}/turn/{}/step/{}"),
    ("POST", "/v1/agents"), ("POST", "/v1/agents/{}/session/{}/turn"),
    ("POST", "/v1beta/datasets"), ("GET", "/v1beta/datasets"), ("GET", "/v1beta/datasets/{}"), ("DELETE", "/v1beta/datasets/{}"),
    ("GET", "/v1beta/datasetio/iterrows/{}"), ("POST", "/v1beta/datasetio/append-rows/{}"),
    ("POST", "/v1/scoring/score"), ("POST", "/v1/scoring/score-batch"), ("GET", "/v1/scoring-functions"),
    ("POST", "/v1/scoring-functions"), ("GET", "/v1/scoring-functions/{}"), ("DELETE", "/v1/scoring-functions/{}"),
    ("GET", "/v1alpha/eval/benchmarks"), ("POST", "/v1alpha/eval/benchmarks"), ("GET", "/v1alpha/eval/benchmarks/{}"),
    ("DELETE", "/v1alpha/eval/benchmarks/{}"), ("POST", "/v1alpha/eval/benchmarks/{}/jobs"),
    ("GET", "/v1alpha/eval/benchmarks/{}/jobs/{}"), ("DELETE", "/v1alpha/eval/benchmarks/{}/jobs/{}"),
    ("GET", "/v1alpha/eval/benchmarks/{}/jobs/{}/result"), ("POST", "/v1alpha/eval/benchmarks/{}/evaluations"),
    ("POST", "/v1alpha/post-training/supervised-fine-tune"), ("POST", "/v1alpha/post-training/preference-optimize"),
    ("GET", "/v1alpha/post-training/jobs"), ("GET", "/v1alpha/post-training/jobs/{}/status"),
    ("GET", "/v1alpha/post-training/jobs/{}/artifacts"), ("POST", "/v1alpha/post-training/jobs/{}/cancel"),
    ("POST", "/v1/synthetic-data-generation/generate"),
    ("GET", "/v1/prompts"), ("POST", "/v1/prompts"), ("GET", "/v1/prompts/{}"), ("PUT", "/v1/prompts/{}"),
    ("POST", "/v1/prompts/{}"), ("DELETE", "/v1/prompts/{}"), ("PUT", "/v1/prompts/{}/set-default-version"),
    ("POST", "/v1/prompts/{}/set-default-version"), ("GET", "/v1/prompts/{}/versions"),
]
# Streamed on the same path: "stream": true is routed to `<path>:stream`.
STREAMING = ["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1alpha/agents/{}/session/{}/turn"]


@pytest.fixture(scope="module")
def bound_routes(tmp_path_factory) -> set[tuple[str, str]]:
    descriptor = tmp_path_factory.mktemp("d") / "stackmesh.binpb"
    subprocess.run([sys.executable, str(CODEGEN), "--descriptor-only", "--descriptor-out", str(descriptor)], check=True)
    routes = set()
    for service in load_services(descriptor):
        for method in service.methods:
            for verb, path in method.bindings:
                routes.add((verb, re.sub(r"\{[^}]+\}", "{}", path)))
    return routes


def test_buf_lint_passes():
    result = subprocess.run([sys.executable, str(CODEGEN), "--lint"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_change_breaks_callers_of_the_released_contract():
    result = subprocess.run([sys.executable, str(CODEGEN), "--breaking"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_breaking_check_catches_a_changed_field_type(tmp_path):
    """Run on a copy of protos/ whose chat message role became a number."""
    copy = tmp_path / "protos"
    shutil.copytree(REPO / "protos", copy, ignore=shutil.ignore_patterns("gen"))
    chat = copy / "stackmesh" / "common" / "v1" / "chat.proto"
    chat.write_text(chat.read_text().replace("  string role = 1;", "  int32 role = 1;"))
    result = subprocess.run([sys.executable, str(copy / "codegen.py"), "--breaking"], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'name "role" on message "ChatMessage" changed type from "string" to "int32"' in result.stdout


def test_the_api_bundle_builds_on_its_own(tmp_path):
    """Unpacked, the bundle compiles with plain protoc and with buf, nothing from site-packages."""
    archive = tmp_path / "stackmesh-protos.tar.gz"
    subprocess.run([sys.executable, str(CODEGEN), "--bundle", str(archive)], check=True, capture_output=True)
    root = tmp_path / "bundle"
    with tarfile.open(archive) as bundle:
        bundle.extractall(root, filter="data")
    protos = sorted(str(p.relative_to(root)) for p in (root / "stackmesh").rglob("*.proto"))
    assert protos == sorted(str(p.relative_to(REPO / "protos")) for p in (REPO / "protos" / "stackmesh").rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out = tmp_path / "out"
    out.mkdir()
    protoc = [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}", f"-I{well_known}", f"--python_out={out}", *protos]
    result = subprocess.run(protoc, capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr
    assert (out / "stackmesh" / "common" / "v1" / "chat_pb2.py").exists()
    result = subprocess.run([str(Path(sys.executable).parent / "buf"), "build", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    bundled = descriptor_pb2.FileDescriptorSet.FromString((root / "stackmesh.binpb").read_bytes())
    assert {"stackmesh.inference.v1.InferenceService", "stackmesh.vector_io.v1.VectorStoresService"} <= {
        f"{f.package}.{s.name}" for f in bundled.file for s in f.service
    }


def test_json_valued_fields_say_which_shapes_they_accept(tmp_path):
    """Where a field stays a google.protobuf.Value, its comment tells callers what JSON goes in."""
    descriptor = tmp_path / "d.binpb"
    subprocess.run([sys.executable, str(CODEGEN), "--descriptor-only", "--descriptor-out", str(descriptor)], check=True)
    shapes = re.compile(r"string|list|array|object|number|JSON|\{", re.IGNORECASE)
    silent = []
    for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file:
        if not file.name.startswith("stackmesh/"):
            continue
        comments = {tuple(location.path): location.leading_comments for location in file.source_code_info.location}
        pending = [((4, index), message) for index, message in enumerate(file.message_type)]
        while pending:
            path, message = pending.pop()
            pending += [(path + (3, index), nested) for index, nested in enumerate(message.nested_type)]
            for index, field in enumerate(message.field):
                if field.type_name == ".google.protobuf.Value" and not shapes.search(comments.get(path + (2, index), "")):
                    silent.append(f"{file.name}: {message.name}.{field.name}")
    assert silent == []


def test_generated_stubs_are_fresh():
    """The committed stubs are what protoc makes from the committed protos."""
    result = subprocess.run([sys.executable, str(CODEGEN), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("route", OPENAI_COMPATIBLE + LLAMA_STACK, ids=lambda r: f"{r[0]} {r[1]}")
def test_every_api_surface_route_is_bound(bound_routes, route):
    assert route in bound_routes


@pytest.mark.parametrize("route", [r for r in OPENAI_COMPATIBLE if r not in LEGACY_EXEMPT], ids=lambda r: f"{r[0]} {r[1]}")
def test_openai_routes_have_the_legacy_prefix(bound_routes, route):
    method, path = route
    assert (method, path.replace("/v1/", "/v1/openai/v1/", 1)) in bound_routes


@pytest.mark.parametrize("path", STREAMING)
def test_streaming_routes_have_a_stream_binding(bound_routes, path):
    assert ("POST", f"{path}:stream") in bound_routes


def test_every_rpc_is_bound_except_grpc_only_ones(tmp_path):
    """Only typed stream twins, typed RPCs with a REST twin (`XHttp`) and the auth service's
    operator and mesh APIs (keys, usage reports: on its own port, never through the gateway)
    are gRPC-only."""
    descriptor = tmp_path / "d.binpb"
    subprocess.run([sys.executable, str(CODEGEN), "--descriptor-only", "--descriptor-out", str(descriptor)], check=True)
    unbound = [
        f"{s.full_name}/{m.name}"
        for s in load_services(descriptor)
        for m in s.methods
        if not m.bindings and not (m.name.startswith("Stream") or any(t.name == f"{m.name}Http" for t in s.methods))
        and s.api != "auth"
    ]
    assert unbound == []


def test_registry_writes_are_marked_for_operators_only(tmp_path):
    """Loading weights, adding shields and reaching new MCP servers change what every tenant
    is served: the auth layer reads this mark to keep them to admins."""
    descriptor = tmp_path / "d.binpb"
    subprocess.run([sys.executable, str(CODEGEN), "--descriptor-only", "--descriptor-out", str(descriptor)], check=True)
    admin = {f"{s.full_name.rsplit('.', 1)[1]}/{m.name}" for s in load_services(descriptor) for m in s.methods if m.admin}
    assert admin == {
        "ModelsService/RegisterModel", "ModelsService/UnregisterModel",
        "ShieldsService/RegisterShield", "ShieldsService/UnregisterShield",
        "ToolGroupsService/RegisterToolGroup", "ToolGroupsService/UnregisterToolGroup",
        "KeysService/CreateKey", "KeysService/ListKeys", "KeysService/RevokeKey",
    }  # fmt: skip
