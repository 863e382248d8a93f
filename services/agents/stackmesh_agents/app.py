"""The agents service: OpenAI Responses and Conversations on one agent loop over the mesh, and
Llama Stack's stored prompts, tool groups and agents (whose turns run on the same loop)."""

from __future__ import annotations

from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh_common.config import ConfigError
from stackmesh_common.service import ServiceContext, ServiceSpec
from stackmesh_agents.agent_store import AgentStore
from stackmesh_agents.agents_servicer import AgentsServicer
from stackmesh_agents.background import open_background
from stackmesh_agents.conversations_servicer import ConversationsServicer
from stackmesh_agents.file_search import FileSearch
from stackmesh_agents.guardrails import Guardrails
from stackmesh_agents.loop import AgentLoop
from stackmesh_agents.mcp import McpClient
from stackmesh_agents.prompts import PromptStore
from stackmesh_agents.prompts_servicer import PromptsServicer
from stackmesh_agents.responses_servicer import ResponsesServicer
from stackmesh_agents.settings import Settings
from stackmesh_agents.store import ConversationStore, ResponseStore
from stackmesh_agents.tool_groups import ToolGroups, tool_runtimes
from stackmesh_agents.tool_groups_servicer import ToolGroupsServicer, ToolRuntimeServicer
from stackmesh_agents.turns import TurnBuilder


async def setup(ctx: ServiceContext) -> None:
    if not ctx.peers.has("inference"):
        raise ConfigError("the agents service needs the inference service in the distribution")
    settings: Settings = ctx.settings
    responses = ResponseStore(ctx.pool)
    conversations = ConversationStore(ctx.pool)
    prompts = PromptStore(ctx.pool)
    file_search = FileSearch(ctx.peers.vector_io, settings.tool_timeout_s) if ctx.peers.has("vector_io") else None
    guardrails = Guardrails(ctx.peers.safety, settings.tool_timeout_s) if ctx.peers.has("safety") else None
    mcp = McpClient(connect_timeout_s=settings.mcp_connect_timeout_s, call_timeout_s=settings.tool_timeout_s)
    ctx.on_close(mcp.close)
    loop = AgentLoop(ctx.peers.inference, file_search, guardrails, mcp, settings)
    builder = TurnBuilder(loop, responses, conversations, prompts, settings)
    background = await open_background(ctx, builder, loop)
    if not ctx.serving:
        return  # a worker process: background responses only
    ctx.add_servicer(ResponsesServicer(builder, background), pb_grpc.add_ResponsesServiceServicer_to_server)
    ctx.add_servicer(ConversationsServicer(conversations), pb_grpc.add_ConversationsServiceServicer_to_server)
    ctx.add_servicer(PromptsServicer(prompts), pb_grpc.add_PromptsServiceServicer_to_server)
    tool_groups = ToolGroups(ctx.pool, tool_runtimes(file_search, mcp))
    await tool_groups.start()
    ctx.add_servicer(ToolGroupsServicer(tool_groups), pb_grpc.add_ToolGroupsServiceServicer_to_server)
    ctx.add_servicer(ToolRuntimeServicer(tool_groups), pb_grpc.add_ToolRuntimeServiceServicer_to_server)
    ctx.add_servicer(AgentsServicer(AgentStore(ctx.pool), builder, tool_groups), pb_grpc.add_AgentsServiceServicer_to_server)


SPEC = ServiceSpec(
    name="agents",
    setup=setup,
    migrations="stackmesh_agents.migrations",
    settings=Settings,
    uses_nats=True,
)
