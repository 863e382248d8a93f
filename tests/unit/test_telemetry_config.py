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


def test_compose_scrapes_every_service_on_the_metrics_port():
    config = load_config(REPO / "deploy/distributions/compose.yaml", env={})
    assert config.telemetry.metrics.port == 9464
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yaml").read_text())["services"]
    for name in config.services:
        container = compose[name.replace("_", "-")]
        assert container["labels"]["prometheus.io/scrape"] == "true" and container["labels"]["prometheus.io/port"] == "9464", name
        assert "9464" in container["expose"]
