"""Telemetry in the rendered gateway (Envoy itself checks the config) and in the distributions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stackmesh_common.config import ConfigError, load_config
from stackmesh_gateway.render import render

REPO = Path(__file__).resolve().parents[2]
DESCRIPTOR = REPO / "build" / "stackmesh.binpb"


def _hcm(rendered: dict) -> dict:
    return rendered["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


def _lua(hcm: dict) -> str:
    return next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.lua")["typed_config"]["default_source_code"]["inline_string"]


def _envoy_accepts(rendered: dict, tmp_path: Path) -> None:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(rendered))
    envoy = shutil.which("envoy") or str(REPO / ".venv" / "bin" / "envoy")
    done = subprocess.run([envoy, "--mode", "validate", "-c", str(path), "-l", "error"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_a_collector_the_gateway_lua_starts_traces(tmp_path):
    config = load_config(REPO / "deploy/distributions/local.yaml", env={})
    hcm = _hcm(render(config, DESCRIPTOR))
    assert "tracing" not in hcm
    assert _lua(hcm).startswith("START_TRACES = true\nTRACE_SAMPLE_RATIO = 1.0\n")


def test_with_a_collector_envoy_traces_to_it(tmp_path):
    config = load_config(REPO / "deploy/distributions/local.yaml", env={"STACKMESH_TELEMETRY__TRACES__OTLP_ENDPOINT": "http://collector:4317"})
    rendered = render(config, DESCRIPTOR)
    hcm = _hcm(rendered)
    assert hcm["tracing"]["provider"]["name"] == "envoy.tracers.opentelemetry"
    collector = next(c for c in rendered["static_resources"]["clusters"] if c["name"] == "otel_collector")
    address = collector["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert (address["address"], address["port_value"]) == ("collector", 4317)
    assert _lua(hcm).startswith("START_TRACES = false\n")
    _envoy_accepts(rendered, tmp_path)


def test_a_collector_without_a_host_is_a_config_error():
    config = load_config(REPO / "deploy/distributions/local.yaml", env={"STACKMESH_TELEMETRY__TRACES__OTLP_ENDPOINT": "http://:4317"})
    with pytest.raises(ConfigError, match="otlp_endpoint"):
        render(config, DESCRIPTOR)


def _listener(rendered: dict, name: str) -> dict | None:
    return next((each for each in rendered["static_resources"]["listeners"] if each["name"] == name), None)


def test_the_metrics_listener_serves_only_envoys_prometheus_stats(tmp_path):
    config = load_config(REPO / "deploy/distributions/local.yaml", env={"STACKMESH_GATEWAY__METRICS_PORT": "19464", "STACKMESH_GATEWAY__ADMIN_PORT": "19901"})
    rendered = render(config, DESCRIPTOR)
    assert [each["name"] for each in rendered["static_resources"]["listeners"]] == ["public", "metrics"]
    listener = _listener(rendered, "metrics")
    assert listener["address"]["socket_address"] == {"address": config.gateway.host, "port_value": 19464}
    [chain] = listener["filter_chains"]
    assert "transport_socket" not in chain
    hcm = chain["filters"][0]["typed_config"]
    assert (hcm["stat_prefix"], hcm["codec_type"]) == ("metrics", "AUTO")
    assert [f["name"] for f in hcm["http_filters"]] == ["envoy.filters.http.router"]
    [host] = hcm["route_config"]["virtual_hosts"]
    forwarded, rest = host["routes"]
    # Exactly GET /metrics reaches the admin, as /stats/prometheus; everything else is a 404.
    assert forwarded["match"] == {"path": "/metrics", "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]}
    assert forwarded["route"] == {"cluster": "envoy_admin", "prefix_rewrite": "/stats/prometheus"}
    assert rest["match"] == {"prefix": "/"} and rest["direct_response"]["status"] == 404 and "route" not in rest
    admin = next(c for c in rendered["static_resources"]["clusters"] if c["name"] == "envoy_admin")
    assert admin["type"] == "STATIC" and "typed_extension_protocol_options" not in admin
    address = admin["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert address == {"address": "127.0.0.1", "port_value": 19901} == rendered["admin"]["address"]["socket_address"]
    # No other route anywhere goes to the admin.
    routes = [r for each in rendered["static_resources"]["listeners"] for c in each["filter_chains"] for f in c["filters"]
              for v in f["typed_config"]["route_config"]["virtual_hosts"] for r in v["routes"]]  # fmt: skip
    assert [r for r in routes if r.get("route", {}).get("cluster") == "envoy_admin"] == [forwarded]
    _envoy_accepts(rendered, tmp_path)


def test_without_metrics_there_is_no_metrics_listener():
    config = load_config(REPO / "deploy/distributions/local.yaml", env={"STACKMESH_TELEMETRY__METRICS__ENABLED": "false"})
    rendered = render(config, DESCRIPTOR)
    assert [each["name"] for each in rendered["static_resources"]["listeners"]] == ["public"]
    assert "envoy_admin" not in [c["name"] for c in rendered["static_resources"]["clusters"]]


def test_compose_scrapes_every_service_and_the_gateway_on_the_metrics_port():
    config = load_config(REPO / "deploy/distributions/compose.yaml", env={})
    assert config.telemetry.metrics.port == 9464 == config.gateway.metrics_port
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yaml").read_text())["services"]
    for name in [*config.services, "gateway"]:
        container = compose[name.replace("_", "-")]
        assert container["labels"]["prometheus.io/scrape"] == "true" and container["labels"]["prometheus.io/port"] == "9464", name
        assert "9464" in container["expose"]
