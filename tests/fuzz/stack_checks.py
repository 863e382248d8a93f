"""Whether a stack still serves after hostile input: the gateway, every service, no restarts."""

from __future__ import annotations

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack


def restarts(stack: LocalStack) -> dict[str, int]:
    """Restarts per component so far: one during fuzzing means a process crashed."""
    record = state.read(stack.state_dir)
    return {c.name: c.restarts for c in record.components} if record else {}


def serving_problems(stack: LocalStack) -> list[str]:
    problems = []
    models = httpx.get(f"{stack.gateway_url}/v1/models", timeout=30)
    if models.status_code != 200:
        problems.append(f"GET /v1/models answered {models.status_code}: {models.text[:200]}")
    for name in stack.config.services:
        with grpc.insecure_channel(stack.service_address(name)) as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            except grpc.RpcError as exc:
                problems.append(f"{name}: health check failed with {exc.code().name}")
                continue
            if answer.status != health_pb2.HealthCheckResponse.SERVING:
                problems.append(f"{name}: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}")
    return problems
