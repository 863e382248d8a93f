"""The OpenAPI document generated from the descriptor set, and the gateway route serving it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis

from stackmesh_common.config import StackConfig
from stackmesh_gateway.descriptor import load_services
from stackmesh_gateway.openapi import OPENAPI_PATH, build_openapi
from stackmesh_gateway.render import render, write_openapi
from stackmesh_gateway.schemas import SCALARS, WELL_KNOWN, F

REPO = Path(__file__).resolve().parents[2]
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("d") / "stackmesh.binpb"
    subprocess.run([sys.executable, str(REPO / "protos" / "codegen.py"), "--descriptor-only", "--descriptor-out", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def document(descriptor: Path) -> dict[str, Any]:
    return build_openapi(descriptor)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(verb, path, op) for path, item in document["paths"].items() for verb, op in item.items()]


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def test_every_http_binding_is_one_operation_named_by_its_grpc_method(descriptor, document):
    bindings = {(f"/{s.full_name}/{m.name}", verb) for s in load_services(descriptor) for m in s.methods for verb, _ in m.bindings}
    documented = {(op["x-grpc-method"], verb.upper()) for verb, _, op in operations(document) if "x-grpc-method" in op}
    assert documented == bindings
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    assert "stackmesh.inference.v1.InferenceService.CreateChatCompletion" in ids
    # additional_bindings are operations of their own.
    assert document["paths"]["/v1/openai/v1/chat/completions"]["post"]["operationId"].startswith("stackmesh.inference.v1.InferenceService.CreateChatCompletion")


def test_path_variables_are_parameters_and_bodies_leave_them_out(document):
    operation = document["paths"]["/v1/vector_stores/{vector_store_id}/search"]["post"]
    assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [("vector_store_id", "path", True)]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "vector_store_id" not in body["properties"] and "query" in body["properties"]
    assert operation["tags"] == ["vector_io"]
    # `{model=**}`: one OpenAPI variable that may hold slashes; DELETE binds `model_id` on the same path.
    models = document["paths"]["/v1/models/{model}"]
    assert "%2F" in models["get"]["parameters"][0]["description"]
    assert "`model_id`" in models["delete"]["parameters"][0]["description"]


def test_get_requests_take_the_remaining_fields_as_query_parameters(document):
    parameters = {p["name"]: p for p in document["paths"]["/v1/files"]["get"]["parameters"]}
    assert set(parameters) == {"after", "limit", "order", "purpose"}
    assert parameters["limit"]["in"] == "query" and parameters["limit"]["schema"]["format"] == "int32"


def test_proto3_json_mapping_of_field_types(document):
    chat = schema(document, "stackmesh.inference.v1.CreateChatCompletionRequest")["properties"]
    assert chat["messages"]["type"] == "array" and chat["messages"]["items"]["$ref"].startswith(REF)
    assert chat["metadata"]["type"] == "object" and chat["metadata"]["additionalProperties"] == {"type": "string"}
    assert chat["temperature"]["oneOf"][1]["enum"] == ["NaN", "Infinity", "-Infinity"]
    assert chat["max_tokens"]["maximum"] == 2**31 - 1
    assert "description" in chat["model"]
    assert SCALARS[F.TYPE_INT64]["type"] == ["integer", "string"] and SCALARS[F.TYPE_UINT64]["minimum"] == 0
    assert SCALARS[F.TYPE_BYTES]["contentEncoding"] == "base64"
    job = schema(document, "stackmesh.common.v1.Job")["properties"]
    assert job["state"]["$ref"] == REF + "stackmesh.common.v1.JobState"
    assert "JOB_STATE_IN_PROGRESS" in schema(document, "stackmesh.common.v1.JobState")["enum"]
    store = schema(document, "stackmesh.vector_io.v1.CreateVectorStoreRequest")["properties"]
    assert store["metadata"]["type"] == "object"


def test_well_known_types_take_their_json_form():
    assert WELL_KNOWN[".google.protobuf.Timestamp"]["format"] == "date-time"
    assert WELL_KNOWN[".google.protobuf.Value"].keys() == {"description"}  # any JSON
    assert WELL_KNOWN[".google.protobuf.Int64Value"]["type"] == ["integer", "string"]
    assert WELL_KNOWN[".google.protobuf.BytesValue"]["contentEncoding"] == "base64"


def test_streams_are_server_sent_events_and_uploads_multipart(document):
    stream = document["paths"]["/v1/chat/completions:stream"]["post"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
    # The plain route streams too when the body says "stream": true.
    assert set(document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    watch = document["paths"]["/v1/batches/{batch_id}:watch"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert watch["x-stackmesh-event-schema"]["$ref"] == REF + "stackmesh.common.v1.Job"
    upload = document["paths"]["/v1/files"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"] and "file" in upload["multipart/form-data"]["schema"]["properties"]
    assert list(document["paths"]["/v1/files/{file_id}/content"]["get"]["responses"]["200"]["content"]) == ["*/*"]


def test_errors_are_documented_as_the_openai_envelope(document):
    for _, _, op in operations(document):
        if "x-grpc-method" in op:
            assert op["responses"]["4XX"] == op["responses"]["5XX"] == {"$ref": "#/components/responses/Error"}
    envelope = schema(document, "stackmesh.ErrorEnvelope")
    assert set(envelope["properties"]["error"]["required"]) == {"message", "type", "param", "code"}


def test_every_schema_is_valid_json_schema_and_schemathesis_reads_every_operation(document):
    for name, component in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(component)
    loaded = schemathesis.openapi.from_dict(document)
    assert sum(1 for result in loaded.get_all_operations() if result.ok()) == len(operations(document))


def test_only_deployed_services_are_documented(descriptor):
    document = build_openapi(descriptor, ["stackmesh.inference.v1.ModelsService"])
    assert {op["tags"][0] for _, _, op in operations(document)} == {"inference", "gateway"}


def test_the_gateway_serves_the_document_before_its_catch_all(descriptor, tmp_path):
    config = StackConfig.model_validate({"name": "t", "services": {"inference": {"port": 50051}}})
    path = write_openapi(config, descriptor, tmp_path)
    written = json.loads(path.read_text())
    # Safety and the rest are not deployed; Inspect is served by every service.
    assert {op["tags"][0] for _, _, op in operations(written)} == {"inference", "inspect", "gateway"}
    envoy = render(config, descriptor, path)
    route_config = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]
    routes = route_config["virtual_hosts"][0]["routes"]
    index, route = next((i, r) for i, r in enumerate(routes) if r["match"] == {"path": OPENAPI_PATH})
    assert route["direct_response"] == {"status": 200, "body": {"filename": str(path.resolve())}}
    assert route["response_headers_to_add"][0]["header"] == {"key": "content-type", "value": "application/json"}
    assert index < len(routes) - 1 and routes[-1]["match"] == {"prefix": "/"}
    assert route_config["max_direct_response_body_size_bytes"] >= path.stat().st_size
