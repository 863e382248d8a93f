"""gRPC servicers of Llama Stack's Tool Groups and Tool Runtime APIs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from google.protobuf import empty_pb2

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh.agents.v1 import tool_pb2
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.protojson import from_json, request_to_dict
from stackmesh_agents.tool_groups import Tool, ToolGroup, ToolGroups, ToolResult


def _set(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _tool_group(group: ToolGroup) -> tool_pb2.ToolGroup:
    return from_json(
        _set(
            identifier=group.identifier,
            provider_resource_id=group.identifier,
            provider_id=group.provider_id,
            type="tool_group",
            mcp_endpoint={"uri": group.mcp_endpoint} if group.mcp_endpoint else None,
            args=group.args,
        ),
        tool_pb2.ToolGroup,
    )


def _tool_def(tool: Tool) -> tool_pb2.ToolDef:
    return from_json(_set(**asdict(tool)), tool_pb2.ToolDef)


def _tool_list(tools: list[Tool]) -> pb.ListToolDefsResponse:
    return pb.ListToolDefsResponse(data=[_tool_def(tool) for tool in tools])


def _result(result: ToolResult) -> tool_pb2.ToolInvocationResult:
    return from_json(_set(**asdict(result)), tool_pb2.ToolInvocationResult)


class ToolGroupsServicer(pb_grpc.ToolGroupsServiceServicer):
    def __init__(self, groups: ToolGroups) -> None:
        self.groups = groups

    async def ListTools(self, request: pb.ListToolsRequest, context: Any) -> pb.ListToolDefsResponse:
        return _tool_list(await self.groups.tools(request.toolgroup_id or None))

    async def GetTool(self, request: pb.GetToolRequest, context: Any) -> tool_pb2.ToolDef:
        _, tool = await self.groups.find_tool(request.tool_name)
        return _tool_def(tool)

    async def ListToolGroups(self, request: pb.ListToolGroupsRequest, context: Any) -> pb.ListToolGroupsResponse:
        return pb.ListToolGroupsResponse(data=[_tool_group(group) for group in await self.groups.list()])

    async def RegisterToolGroup(self, request: pb.RegisterToolGroupRequest, context: Any) -> empty_pb2.Empty:
        args = request_to_dict(request).get("args")
        await self.groups.register(ToolGroup(request.toolgroup_id, request.provider_id, request.mcp_endpoint.uri or None, args))
        return empty_pb2.Empty()

    async def GetToolGroup(self, request: pb.GetToolGroupRequest, context: Any) -> tool_pb2.ToolGroup:
        return _tool_group(await self.groups.get(request.toolgroup_id))

    async def UnregisterToolGroup(self, request: pb.UnregisterToolGroupRequest, context: Any) -> empty_pb2.Empty:
        await self.groups.unregister(request.toolgroup_id)
        return empty_pb2.Empty()


class ToolRuntimeServicer(pb_grpc.ToolRuntimeServiceServicer):
    def __init__(self, groups: ToolGroups) -> None:
        self.groups = groups

    async def InvokeTool(self, request: pb.InvokeToolRequest, context: Any) -> tool_pb2.ToolInvocationResult:
        kwargs = request_to_dict(request).get("kwargs", {})
        return _result(await self.groups.invoke(request.tool_name, kwargs, request.authorization or None))

    async def ListRuntimeTools(self, request: pb.ListRuntimeToolsRequest, context: Any) -> pb.ListToolDefsResponse:
        authorization = request.authorization or None
        if request.mcp_endpoint.uri and request.tool_group_id:
            raise InvalidArgument("Give `tool_group_id` or `mcp_endpoint`, not both", param="mcp_endpoint")
        if request.mcp_endpoint.uri:
            return _tool_list(await self.groups.server_tools(request.mcp_endpoint.uri, authorization))
        return _tool_list(await self.groups.tools(request.tool_group_id or None, authorization, param="tool_group_id"))
