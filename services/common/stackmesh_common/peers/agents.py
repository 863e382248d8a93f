"""The agents service as peers call it: an agent, a session per conversation, a turn."""

from __future__ import annotations

import grpc

from stackmesh.agents.v1 import agent_pb2
from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh_common.errors import StackmeshError
from stackmesh_common.peers.errors import peer_error

PEER = "agents"


class AgentsClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._agents = pb_grpc.AgentsServiceStub(channel)

    async def create_agent(
        self, config: agent_pb2.AgentConfig, *, timeout_s: float, refused_as: type[StackmeshError] | None = None, param: str | None = None
    ) -> str:
        try:
            reply = await self._agents.CreateAgent(pb.CreateAgentRequest(agent_config=config), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, "creating an agent", refused_as=refused_as, param=param) from None
        return reply.agent_id

    async def delete_agent(self, agent_id: str, *, timeout_s: float) -> None:
        try:
            await self._agents.DeleteAgent(pb.DeleteAgentRequest(agent_id=agent_id), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise peer_error(exc, PEER, f"deleting agent `{agent_id}`") from None

    async def create_session(self, agent_id: str, name: str, *, timeout_s: float) -> str:
        try:
            reply = await self._agents.CreateSession(pb.CreateSessionRequest(agent_id=agent_id, session_name=name), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"creating a session of agent `{agent_id}`") from None
        return reply.session_id

    async def create_turn(self, request: pb.CreateTurnRequest, *, timeout_s: float) -> agent_pb2.Turn:
        try:
            return await self._agents.CreateTurn(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"a turn of agent `{request.agent_id}`") from None
