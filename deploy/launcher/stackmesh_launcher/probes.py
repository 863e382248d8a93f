"""Health probes shared by readiness waits and `stackmesh status`: gRPC health, HTTP, PostgreSQL,
and a log line for processes that serve no port."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stackmesh_launcher import process

ProbeKind = Literal["grpc", "http", "postgres", "worker-log"]
# What `serve_worker` (stackmesh_common.service) logs once the service is built and its job
# runners consume: a worker has no port to ask.
WORKER_STARTED = "worker started"

# One probe must answer quickly: readiness loops poll, and status checks every component.
_TIMEOUT_S = 2.0

# An http_proxy in the environment must not capture requests to our own loopback ports. A
# gateway with TLS is probed without checking its certificate: the probe asks whether our own
# process answers, and operators' certificates often name a public host, not 127.0.0.1.
_DIRECT = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl._create_unverified_context())
)


def _grpc_serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=_TIMEOUT_S)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _http_ok(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=_TIMEOUT_S) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _postgres_ok(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=int(_TIMEOUT_S), autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _worker_started(log_path: str) -> bool:
    for line in process.current_run(Path(log_path)).splitlines():
        if WORKER_STARTED in line:
            try:
                if json.loads(line).get("msg") == WORKER_STARTED:
                    return True
            except (json.JSONDecodeError, AttributeError):
                pass  # not a log record of the service kit
    return False


_CHECKS: dict[str, Callable[[str], bool]] = {
    "grpc": _grpc_serving,
    "http": _http_ok,
    "postgres": _postgres_ok,
    "worker-log": _worker_started,
}


@dataclass(frozen=True)
class Probe:
    """How to ask one component whether it serves: a kind of check and its target."""

    kind: ProbeKind
    target: str

    def ok(self) -> bool:
        return _CHECKS[self.kind](self.target)
