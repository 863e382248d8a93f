"""Shields as peers call them: look-up and run-shield (the agents' guardrails)."""

from __future__ import annotations

import grpc

from stackmesh.safety.v1 import safety_service_pb2 as pb
from stackmesh.safety.v1 import safety_service_pb2_grpc as pb_grpc
from stackmesh.safety.v1 import shield_pb2
from stackmesh_common.peers.errors import peer_error

PEER = "safety"


class SafetyClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._shields = pb_grpc.ShieldsServiceStub(channel)
        self._safety = pb_grpc.SafetyServiceStub(channel)

    async def get_shield(self, shield_id: str, *, timeout_s: float, param: str | None = None) -> shield_pb2.Shield:
        try:
            return await self._shields.GetShield(pb.GetShieldRequest(identifier=shield_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"looking up shield `{shield_id}`", param=param) from None

    async def run_shield(self, request: pb.RunShieldRequest, *, timeout_s: float) -> pb.RunShieldResponse:
        try:
            return await self._safety.RunShield(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"running shield `{request.shield_id}`") from None
