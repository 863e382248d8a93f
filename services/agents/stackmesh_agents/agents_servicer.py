"""gRPC servicer of Llama Stack's agents API: agents, sessions and turns, each turn one run of
the Responses agent loop chained to its session's previous response."""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc
from google.protobuf import empty_pb2

from stackmesh.agents.v1 import agent_pb2
from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, NotFound, StackmeshError
from stackmesh_common.protojson import from_json, request_to_dict
from stackmesh_common.sse import sse_stream
from stackmesh_agents.agent_store import AWAITING_INPUT, COMPLETED, AgentStore, StoredAgent, StoredSession, StoredTurn
from stackmesh_agents.agent_requests import (
    Json,
    SourcedTool,
    ToolgroupRef,
    client_tools,
    input_items,
    mcp_tool,
    pending_calls,
    rag_tool,
    remaining_iters,
    renamed,
    response_request,
    resume_items,
    rfc3339,
    toolgroup_refs,
)
from stackmesh_agents.turn_steps import TERMINAL_EVENTS, TurnSteps
from stackmesh_agents.items import Item
from stackmesh_agents.loop import Outcome, Turn
from stackmesh_agents.tool_groups import MCP_PROVIDER, RAG_PROVIDER, ToolGroups
from stackmesh_agents.turns import TurnBuilder

# Stands in for a turn's messages when an agent's config is checked at its creation.
PROBE = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ping"}]}]


def _agent(agent: StoredAgent) -> agent_pb2.Agent:
    return from_json({"agent_id": agent.agent_id, "agent_config": agent.config, "created_at": rfc3339(agent.created_at)}, agent_pb2.Agent)


def _session(session: StoredSession, turns: list[StoredTurn]) -> agent_pb2.Session:
    return from_json(
        {"session_id": session.session_id, "session_name": session.name, "started_at": rfc3339(session.started_at), "turns": [t.turn for t in turns]},
        agent_pb2.Session,
    )


async def _chunks(payloads: AsyncIterator[Json]) -> AsyncIterator[agent_pb2.TurnStreamChunk]:
    async for payload in payloads:
        yield from_json({"event": {"payload": payload}}, agent_pb2.TurnStreamChunk)


async def _final_turn(payloads: AsyncIterator[Json]) -> agent_pb2.Turn:
    """What a non-streamed turn answers: the turn of its last event (complete or awaiting input)."""
    last: Json = {}
    async for payload in payloads:
        last = payload
    return from_json(last["turn"], agent_pb2.Turn)


class AgentsServicer(pb_grpc.AgentsServiceServicer):
    def __init__(self, store: AgentStore, builder: TurnBuilder, tool_groups: ToolGroups) -> None:
        self.store = store
        self.builder = builder
        self.loop = builder.loop
        self.tool_groups = tool_groups

    async def CreateAgent(self, request: pb.CreateAgentRequest, context: grpc.aio.ServicerContext) -> pb.CreateAgentResponse:
        if not request.HasField("agent_config"):
            raise InvalidArgument("`agent_config` is required", param="agent_config")
        config = request_to_dict(request.agent_config)
        if not config.get("model"):
            raise InvalidArgument("`agent_config.model` is required", param="agent_config.model")
        # A turn's request built now finds what would fail every turn: an unknown model, tool
        # group, vector store or shield, a bad tool schema or sampling value.
        await self._response_turn(config, [], PROBE, previous_response_id=None, tool_config=None)
        agent = await self.store.create_agent(config)
        return pb.CreateAgentResponse(agent_id=agent.agent_id)

    async def ListAgents(self, request: pb.ListAgentsRequest, context: grpc.aio.ServicerContext) -> pb.ListAgentsResponse:
        page = await self.store.list_agents(
            request.start_index if request.HasField("start_index") else None, request.limit if request.HasField("limit") else None
        )
        return pb.ListAgentsResponse(data=[_agent(agent) for agent in page.items], has_more=page.has_more)

    async def GetAgent(self, request: pb.GetAgentRequest, context: grpc.aio.ServicerContext) -> agent_pb2.Agent:
        return _agent(await self.store.get_agent(request.agent_id))

    async def DeleteAgent(self, request: pb.DeleteAgentRequest, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        await self.store.delete_agent(request.agent_id)
        return empty_pb2.Empty()

    async def CreateSession(self, request: pb.CreateSessionRequest, context: grpc.aio.ServicerContext) -> pb.CreateSessionResponse:
        if not request.session_name:
            raise InvalidArgument("`session_name` is required", param="session_name")
        session = await self.store.create_session(request.agent_id, request.session_name)
        return pb.CreateSessionResponse(session_id=session.session_id)

    async def ListSessions(self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext) -> pb.ListSessionsResponse:
        page = await self.store.list_sessions(
            request.agent_id,
            request.start_index if request.HasField("start_index") else None,
            request.limit if request.HasField("limit") else None,
        )
        # As Llama Stack's: a listed session leaves its turns out (GetSession has them).
        return pb.ListSessionsResponse(data=[_session(session, []) for session in page.items], has_more=page.has_more)

    async def GetSession(self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext) -> agent_pb2.Session:
        session = await self.store.get_session(request.agent_id, request.session_id)
        return _session(session, await self.store.turns(session.session_id, list(request.turn_ids) or None))

    async def DeleteSession(self, request: pb.DeleteSessionRequest, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        await self.store.delete_session(request.agent_id, request.session_id)
        return empty_pb2.Empty()

    async def CreateTurn(self, request: pb.CreateTurnRequest, context: grpc.aio.ServicerContext) -> agent_pb2.Turn:
        if request.stream:
            raise InvalidArgument("`stream` must be the JSON boolean true to stream (gRPC callers: use StreamTurn)", param="stream")
        return await _final_turn(self._turn(request))

    def StreamTurn(self, request: pb.CreateTurnRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.TurnStreamChunk]:
        return _chunks(self._turn(request))

    def StreamTurnSse(self, request: pb.CreateTurnRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        return sse_stream(_chunks(self._turn(request)))

    async def GetTurn(self, request: pb.GetTurnRequest, context: grpc.aio.ServicerContext) -> agent_pb2.Turn:
        return from_json((await self._stored_turn(request)).turn, agent_pb2.Turn)

    async def ResumeTurn(self, request: pb.ResumeTurnRequest, context: grpc.aio.ServicerContext) -> agent_pb2.Turn:
        if request.stream:
            raise InvalidArgument("`stream` must be the JSON boolean true to stream (gRPC callers: use StreamResumeTurn)", param="stream")
        return await _final_turn(self._resume(request))

    def StreamResumeTurn(self, request: pb.ResumeTurnRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.TurnStreamChunk]:
        return _chunks(self._resume(request))

    def StreamResumeTurnSse(self, request: pb.ResumeTurnRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        return sse_stream(_chunks(self._resume(request)))

    async def GetStep(self, request: pb.GetStepRequest, context: grpc.aio.ServicerContext) -> pb.GetStepResponse:
        stored = await self._stored_turn(request)
        step = next((step for step in stored.turn["steps"] if step["step_id"] == request.step_id), None)
        if step is None:
            raise NotFound(f"Step with id '{request.step_id}' not found in turn '{request.turn_id}'", param="step_id", reason="step_not_found")
        return pb.GetStepResponse(step=from_json(step, agent_pb2.Step))

    async def _stored_turn(self, request: pb.GetTurnRequest | pb.GetStepRequest) -> StoredTurn:
        session = await self.store.get_session(request.agent_id, request.session_id)
        return await self.store.get_turn(session.session_id, request.turn_id)

    async def _turn(self, request: pb.CreateTurnRequest) -> AsyncIterator[Json]:
        """A new turn's payloads, from turn_start; everything the caller got wrong fails before it.
        A turn changes its session: only those who may change it run one."""
        session = await self.store.get_session(request.agent_id, request.session_id, Action.WRITE)
        agent = await self.store.get_agent(request.agent_id)
        body = request_to_dict(request)
        items = input_items(body.get("messages") or [], body.get("documents") or [])
        response_turn = await self._response_turn(
            agent.config, body.get("toolgroups") or [], items,
            previous_response_id=session.last_response_id, tool_config=body.get("tool_config"),
        )  # fmt: skip
        steps = TurnSteps.new(session.session_id, body["messages"])
        for payload in steps.start():
            yield payload
        async for payload in self._run(response_turn, steps):
            yield payload

    async def _resume(self, request: pb.ResumeTurnRequest) -> AsyncIterator[Json]:
        """A resumed turn's payloads: the client's tool results as a step, then the loop's."""
        session = await self.store.get_session(request.agent_id, request.session_id, Action.WRITE)
        agent = await self.store.get_agent(request.agent_id)
        stored = await self.store.get_turn(session.session_id, request.turn_id)
        if stored.status != AWAITING_INPUT:
            state = "being resumed" if stored.status != COMPLETED else "completed"
            raise InvalidArgument(f"Turn '{stored.turn_id}' is {state}: only a turn awaiting input can be resumed", param="turn_id")
        if stored.response_id != session.last_response_id:
            raise InvalidArgument(f"Turn '{stored.turn_id}' is not the session's latest turn: a later turn went on without it", param="turn_id")
        body = request_to_dict(request)
        pending = pending_calls(stored.turn)
        items = resume_items(body.get("tool_responses") or [], pending)
        budget = remaining_iters(stored.turn, agent.config.get("max_infer_iters") or self.builder.settings.max_infer_iters)
        response_turn = await self._response_turn(
            agent.config, [], items, previous_response_id=stored.response_id, tool_config=None, resumed_with=budget
        )
        if not await self.store.claim(session.session_id, stored.turn_id):
            raise InvalidArgument(f"Turn '{stored.turn_id}' is being resumed already", param="turn_id")
        try:
            steps = TurnSteps.resumed(stored.turn)
            for payload in steps.client_results(pending, body["tool_responses"]):
                yield payload
            async for payload in self._run(response_turn, steps):
                yield payload
        finally:
            await self.store.release(session.session_id, stored.turn_id)  # a no-op once the turn is saved

    async def _run(self, response_turn: Turn, steps: TurnSteps) -> AsyncIterator[Json]:
        """Runs the loop, yielding the steps' payloads; the turn is stored before its last one."""
        outcome = Outcome()
        async for event in self.loop.run(response_turn, outcome):
            if event["type"] not in TERMINAL_EVENTS:
                for payload in steps.feed(event):
                    yield payload
                continue
            await self.builder.finish(response_turn, outcome)
            if outcome.error is not None:
                raise outcome.error
            payloads, awaiting = steps.end(outcome.response)
            turn = StoredTurn(steps.turn["turn_id"], outcome.response["id"], AWAITING_INPUT if awaiting else COMPLETED, steps.turn)
            await self.store.save_turn(steps.turn["session_id"], turn)
            for payload in payloads:
                yield payload

    async def _response_turn(
        self,
        config: Json,
        turn_toolgroups: list[Any],
        items: list[Item],
        *,
        previous_response_id: str | None,
        tool_config: Json | None,
        resumed_with: int | None = None,
    ) -> Turn:
        """The loop's turn for the agent's config and these input items, checked by the same
        builder as a create-response request; its errors name the agents API's fields."""
        tools = client_tools(config.get("client_tools") or [])
        refs = toolgroup_refs(config.get("toolgroups") or [], "agent_config.toolgroups") + toolgroup_refs(turn_toolgroups, "toolgroups")
        tools += [await self._group_tool(ref) for ref in refs]
        request = response_request(
            config, tools, items, previous_response_id=previous_response_id, tool_config=tool_config, resumed_with=resumed_with
        )
        try:
            return await self.builder.build(from_json(request.body, pb.CreateResponseRequest))
        except StackmeshError as exc:
            raise renamed(exc, request.renames) from None

    async def _group_tool(self, ref: ToolgroupRef) -> SourcedTool:
        group = await self.tool_groups.get(ref.group_id, param=ref.where)
        if group.provider_id == RAG_PROVIDER:
            return rag_tool(ref, group.args)
        if group.provider_id == MCP_PROVIDER and group.mcp_endpoint:
            return mcp_tool(ref, group.mcp_endpoint)
        raise InvalidArgument(
            f"`{ref.where}`: tool group {ref.group_id!r} (provider {group.provider_id}) cannot be used by an agent", param=ref.where
        )
