"""A second gateway with auth on in front of the session stack's services, and API keys.

The session stack runs local.yaml (auth off, so every other test needs no key); its auth
service and access rules are the same either way, so one more Envoy, rendered from the
stack's resolved config with `auth.enabled`, is all an authenticated front door takes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import yaml

from stackmesh.auth.v1 import auth_service_pb2 as pb
from stackmesh.auth.v1 import auth_service_pb2_grpc as pb_grpc
from stackmesh_launcher.stack import LocalStack
from tests.support.processes import stop_process


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AuthGateway:
    url: str
    grpc_address: str
    admin_url: str
    process: subprocess.Popen

    def checks(self) -> int:
        """How many requests this gateway has asked the auth service about (allowed ones)."""
        stats = httpx.get(f"{self.admin_url}/stats", params={"filter": r"^http\.gateway\.ext_authz\.ok$"}, timeout=10).text
        return int(stats.split(":")[1]) if ":" in stats else 0

    def stop(self) -> None:
        stop_process(self.process)


def start_auth_gateway(stack: LocalStack, directory: Path, *, tls: dict[str, str] | None = None, **auth: object) -> AuthGateway:
    """Envoy on free ports with `auth.enabled` (plus any `auth` settings given), and with
    `tls` ({"cert_file", "key_file"}) serving https."""
    data = yaml.safe_load(stack.config_path.read_text())
    data["auth"] = {**data.get("auth", {}), "enabled": True, **auth}
    port, admin_port, metrics_port = _free_port(), _free_port(), _free_port()
    data["gateway"].update(port=port, admin_port=admin_port, metrics_port=metrics_port, tls=tls)
    data["state_dir"] = str(directory)
    config = directory / "auth-gateway.yaml"
    config.write_text(yaml.safe_dump(data))
    log = (directory / "auth-gateway.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "stackmesh_gateway", "run", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=False).status_code == 200:
                return AuthGateway(url, f"127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}", process)
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the auth gateway did not start; see {directory / 'auth-gateway.log'}")


def create_key(
    stack: LocalStack, principal: str, *, expires_in_seconds: int = 0, limits: pb.Limits | None = None, **attributes: str | list[str]
) -> str:
    """A new API key's secret; attributes as team="red" or roles=["admin"]."""
    values = {name: pb.AttributeValues(values=[v] if isinstance(v, str) else v) for name, v in attributes.items()}
    request = pb.CreateKeyRequest(principal=principal, attributes=values, expires_in_seconds=expires_in_seconds, limits=limits)
    with grpc.insecure_channel(stack.service_address("auth")) as channel:
        created = pb_grpc.KeysServiceStub(channel).CreateKey(request, timeout=10)
    return created.secret
