"""The docker-compose deployment: the compose file validates and matches the local topology."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from stackmesh_common.config import load_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yaml"


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (the offline validator: Debian's docker-compose)."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not on PATH: apt-get install -y docker-compose (make compose-validator)")
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_has_the_local_topology(resolved: dict[str, Any]) -> None:
    """postgres and nats gate inference, which gates the services calling it; all gate the
    gateway, the only published port."""
    services = resolved["services"]
    healthy = {"condition": "service_healthy"}
    assert set(services) == {"postgres", "nats", "inference", "safety", "vector-io", "agents", "gateway"}
    assert services["inference"]["depends_on"] == {"postgres": healthy, "nats": healthy}
    assert services["safety"]["depends_on"] == {"postgres": healthy, "inference": healthy}
    assert services["vector-io"]["depends_on"] == {"postgres": healthy, "nats": healthy, "inference": healthy}
    assert services["agents"]["depends_on"] == {"postgres": healthy, "nats": healthy, "inference": healthy, "vector-io": healthy, "safety": healthy}
    assert services["gateway"]["depends_on"] == {"inference": healthy, "safety": healthy, "vector-io": healthy, "agents": healthy}
    assert [p for s in services.values() for p in s.get("ports", [])] == [{"published": 8321, "target": 8321}]
    assert all("healthcheck" in service for service in services.values())


def test_every_container_restarts_and_has_a_healthcheck(resolved: dict[str, Any]) -> None:
    """A crashed container comes back (docker's restart policy); `docker compose stop` keeps it down."""
    for name, service in resolved["services"].items():
        assert service.get("restart") == "unless-stopped", name
        assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_service_healthchecks_ask_grpc_health_on_the_service_port(resolved: dict[str, Any]) -> None:
    """Each gRPC service's probe targets the port its distribution gives it, and, run here against
    a gRPC health server on that port's stand-in, passes while SERVING and fails after."""
    compose = load_config(DEPLOY / "distributions" / "compose.yaml", env={})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    status = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        for name, distributed in compose.services.items():
            command = resolved["services"][name.replace("_", "-")]["healthcheck"]["test"]
            assert command[:3] == ["CMD", "python", "-c"], command
            target = f"127.0.0.1:{distributed.port}"
            assert target in command[3], f"{name}'s healthcheck does not probe {target}"
            probe = [sys.executable, "-c", command[3].replace(target, f"127.0.0.1:{port}")]
            status.set("", health_pb2.HealthCheckResponse.SERVING)
            assert subprocess.run(probe, check=False, timeout=30).returncode == 0, name
            status.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            assert subprocess.run(probe, check=False, capture_output=True, timeout=30).returncode == 1, name
    finally:
        server.stop(grace=None)


def test_compose_files_it_refers_to_exist(resolved: dict[str, Any]) -> None:
    """docker-compose does not check bind sources, Dockerfiles or their COPY sources; this does."""
    for name, service in resolved["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):
                assert Path(source).exists(), f"{name} mounts missing {source}"
        if "build" not in service:
            continue
        dockerfile = Path(service["build"]["context"]) / service["build"]["dockerfile"]
        args: dict[str, str] = service["build"].get("args", {})
        copies = re.findall(r"^COPY (?!--from)(\S+) ", dockerfile.read_text(), flags=re.MULTILINE)
        assert copies, dockerfile
        for source in copies:
            path = REPO / re.sub(r"\$\{(\w+)\}", lambda m, args=args: args[m.group(1)], source)
            assert path.exists(), f"{dockerfile.name} copies missing {path}"


def test_compose_distribution_serves_what_local_serves() -> None:
    """Same providers and models as local.yaml; peers by compose name, servers on 0.0.0.0."""
    compose = load_config(DEPLOY / "distributions" / "compose.yaml", env={})
    local = load_config(DEPLOY / "distributions" / "local.yaml", env={})
    assert compose.postgres.url == "postgresql://stackmesh:stackmesh@postgres:5432/stackmesh"
    assert (
        load_config(
            DEPLOY / "distributions" / "compose.yaml", env={"STACKMESH_POSTGRES_URL": "postgresql://db/x"}
        ).postgres.url
        == "postgresql://db/x"
    )
    assert compose.nats.url == "nats://nats:4222"
    assert compose.gateway.host == "0.0.0.0" and compose.gateway.port == 8321
    assert set(compose.services) == set(local.services)
    for name, service in compose.services.items():
        # Compose service names are DNS host names: vector_io runs as vector-io.
        assert (service.host, service.listen_host) == (name.replace("_", "-"), "0.0.0.0")
        assert service.providers == local.services[name].providers
        assert service.resources == local.services[name].resources
        assert service.settings == local.services[name].settings
