"""The gateway's upload routes, derived from RPCs taking `stream google.api.HttpBody`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stackmesh_common.config import StackConfig
from stackmesh_gateway.descriptor import load_services, upload_bindings
from stackmesh_gateway.render import BUFFER_FILTER, _template_lua_pattern, _template_regex, render

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("d") / "stackmesh.binpb"
    subprocess.run([sys.executable, str(REPO / "protos" / "codegen.py"), "--descriptor-only", "--descriptor-out", str(path)], check=True)
    return path


def config(*services: str) -> StackConfig:
    return StackConfig.model_validate(
        {"name": "t", "gateway": {"max_upload_bytes": 1234}, "services": {name: {"port": 50050 + i} for i, name in enumerate(services)}}
    )


def test_the_file_upload_rpc_is_found_from_its_request_type(descriptor):
    found = {(s.full_name, verb, path) for s, verb, path in upload_bindings(load_services(descriptor))}
    assert found == {
        ("stackmesh.vector_io.v1.FilesService", "POST", "/v1/files"),
        ("stackmesh.vector_io.v1.FilesService", "POST", "/v1/openai/v1/files"),
    }


def test_upload_routes_turn_the_buffer_off_and_lua_knows_the_limit(descriptor):
    envoy = render(config("inference", "vector_io"), descriptor)
    hcm = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    uploads = [r for r in routes if BUFFER_FILTER in r.get("typed_per_filter_config", {})]
    assert {r["match"]["safe_regex"]["regex"] for r in uploads} == {re.escape("/v1/files"), re.escape("/v1/openai/v1/files")}
    assert all(r["typed_per_filter_config"][BUFFER_FILTER]["disabled"] for r in uploads)
    assert all(r["match"]["headers"] == [{"name": ":method", "string_match": {"exact": "POST"}}] for r in uploads)
    assert all(r["route"]["cluster"] == "vector_io" for r in uploads)
    # Before the catch-all 404, so the buffer filter sees them.
    assert routes.index(uploads[0]) < len(routes) - 1
    lua = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.lua")["typed_config"]["default_source_code"]["inline_string"]
    assert 'UPLOAD_PATTERNS = { "^/v1/files$", "^/v1/openai/v1/files$" }' in lua
    assert "MAX_UPLOAD_BYTES = 1234" in lua


def test_no_upload_route_when_the_api_is_not_deployed(descriptor):
    envoy = render(config("inference"), descriptor)
    routes = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    assert not [r for r in routes if "typed_per_filter_config" in r]


def test_path_templates_match_one_segment_per_variable():
    regex = _template_regex("/v1/things/{thing_id}/upload.v2")
    assert re.fullmatch(regex, "/v1/things/abc-1/upload.v2") and not re.fullmatch(regex, "/v1/things/a/b/upload.v2")
    assert not re.fullmatch(regex, "/v1/things/x/uploadXv2")
    assert _template_lua_pattern("/v1/things/{thing_id}/up-load") == "^/v1/things/[^/]+/up%-load$"
