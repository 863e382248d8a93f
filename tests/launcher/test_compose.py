"""The docker-compose deployment: the compose file validates and matches the local topology."""

from __future__ import annotations

import os
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
# Every secret compose requires, as deploy/.env.example lists them, with a distinct test value.
SECRETS = {
    name: f"test-{name.lower()}"
    for name in re.findall(r"^(STACKMESH_\w+)=$", (DEPLOY / ".env.example").read_text(), flags=re.MULTILINE)
}
# The services whose spec sets uses_nats.
NATS_CLIENTS = {"inference", "vector-io", "agents", "eval", "post-training"}


def compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` (the offline validator: Debian's docker-compose) with `env` only,
    never a developer's deploy/.env."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not on PATH: apt-get install -y docker-compose (make compose-validator)")
    empty = tmp_path / "empty.env"
    empty.touch()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("STACKMESH_")} | env
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "--env-file", str(empty), "config"],
        check=False, capture_output=True, text=True, timeout=60, cwd=REPO, env=environment,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose file as docker-compose resolves it, every secret set."""
    result = compose_config(tmp_path_factory.mktemp("compose"), SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_has_the_local_topology(resolved: dict[str, Any]) -> None:
    """postgres and nats gate inference, which gates the services calling it; all gate the
    gateway, the only published port."""
    services = resolved["services"]
    healthy = {"condition": "service_healthy"}
    assert set(services) == {"postgres", "nats", "inference", "safety", "vector-io", "agents", "eval", "post-training", "auth", "gateway"}
    assert services["inference"]["depends_on"] == {"postgres": healthy, "nats": healthy}
    assert services["safety"]["depends_on"] == {"postgres": healthy, "inference": healthy}
    assert services["vector-io"]["depends_on"] == {"postgres": healthy, "nats": healthy, "inference": healthy}
    assert services["agents"]["depends_on"] == {"postgres": healthy, "nats": healthy, "inference": healthy, "vector-io": healthy, "safety": healthy}
    assert services["eval"]["depends_on"] == {"postgres": healthy, "nats": healthy, "inference": healthy, "vector-io": healthy, "agents": healthy}
    assert services["post-training"]["depends_on"] == {"postgres": healthy, "nats": healthy, "inference": healthy, "eval": healthy}
    assert services["gateway"]["depends_on"] == {
        "inference": healthy, "safety": healthy, "vector-io": healthy, "agents": healthy, "eval": healthy, "post-training": healthy, "auth": healthy,
    }  # fmt: skip
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
    assert compose.nats.url == "nats://nats:4222"
    assert compose.gateway.host == "0.0.0.0" and compose.gateway.port == 8321
    assert set(compose.services) == set(local.services)
    for name, service in compose.services.items():
        # Compose service names are DNS host names: vector_io runs as vector-io.
        assert (service.host, service.listen_host) == (name.replace("_", "-"), "0.0.0.0")
        assert service.providers == local.services[name].providers
        assert service.resources == local.services[name].resources
        assert service.settings == local.services[name].settings


def test_compose_has_no_default_secrets(tmp_path: Path) -> None:
    """No `${VAR:-default}` anywhere; without a secret, config fails naming it and the example file."""
    assert not re.search(r"\$\{\w+:?-", COMPOSE_FILE.read_text())
    assert set(SECRETS) == {
        "STACKMESH_POSTGRES_PASSWORD", "STACKMESH_NATS_PASSWORD", "STACKMESH_INFERENCE_DB_PASSWORD",
        "STACKMESH_SAFETY_DB_PASSWORD", "STACKMESH_VECTOR_IO_DB_PASSWORD", "STACKMESH_AGENTS_DB_PASSWORD",
        "STACKMESH_EVAL_DB_PASSWORD", "STACKMESH_POST_TRAINING_DB_PASSWORD", "STACKMESH_AUTH_DB_PASSWORD",
    }  # fmt: skip
    for missing in ("STACKMESH_POSTGRES_PASSWORD", "STACKMESH_NATS_PASSWORD", "STACKMESH_VECTOR_IO_DB_PASSWORD"):
        result = compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != missing})
        assert result.returncode == 1, missing
        assert f"{missing} is not set; copy deploy/.env.example to deploy/.env and fill it in" in result.stderr


def test_each_container_gets_only_its_own_secrets(resolved: dict[str, Any]) -> None:
    """postgres holds the admin password and sets the roles' at init; a service holds its role's
    password (PGPASSWORD) and the NATS one if it queues jobs; the gateway none."""
    services = resolved["services"]
    postgres = services["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == SECRETS["STACKMESH_POSTGRES_PASSWORD"]
    assert services["nats"]["command"][-4:] == ["--user", "stackmesh", "--pass", SECRETS["STACKMESH_NATS_PASSWORD"]]
    compose = load_config(DEPLOY / "distributions" / "compose.yaml", env={})
    for name in compose.services:
        container = services[name.replace("_", "-")]
        role_password = SECRETS[f"STACKMESH_{name.upper()}_DB_PASSWORD"]
        expected = {"PGPASSWORD": role_password}
        if name.replace("_", "-") in NATS_CLIENTS:
            expected["STACKMESH_NATS_PASSWORD"] = SECRETS["STACKMESH_NATS_PASSWORD"]
        assert container["environment"] == expected, name
        assert postgres[f"STACKMESH_{name.upper()}_DB_PASSWORD"] == role_password
        # The URL names the role and no password; PGPASSWORD gives it.
        assert compose.postgres_for(name).url == f"postgresql://stackmesh_{name}@postgres:5432/stackmesh"
    assert "environment" not in services["gateway"]
    assert compose.postgres.url == ""
    with_nats = load_config(DEPLOY / "distributions" / "compose.yaml", env={"STACKMESH_NATS_PASSWORD": "pw"})
    assert (with_nats.nats.user, with_nats.nats.password) == ("stackmesh", "pw")


def test_the_postgres_container_creates_the_roles_at_init(resolved: dict[str, Any]) -> None:
    """The launcher's service_roles.sql, then the passwords script (tests/launcher/test_postgres_roles.py runs both)."""
    mounts = dict(reversed(volume.split(":")[:2]) for volume in resolved["services"]["postgres"]["volumes"])
    assert {target: source for target, source in mounts.items() if target.startswith("/docker-entrypoint-initdb.d/")} == {
        "/docker-entrypoint-initdb.d/10-service-roles.sql": str(DEPLOY / "launcher" / "stackmesh_launcher" / "service_roles.sql"),
        "/docker-entrypoint-initdb.d/20-role-passwords.sh": str(DEPLOY / "docker" / "postgres-role-passwords.sh"),
    }
