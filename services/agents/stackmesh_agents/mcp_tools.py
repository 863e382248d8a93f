"""A response's MCP servers in the loop: each server's tools listed once as an `mcp_list_tools`
item (or reused from one the context already holds), offered to the model as chat
functions, and called as `mcp_call` items — or held as `mcp_approval_request` items until
the caller approves them in the next request.

A server that is down or hangs costs a bounded wait (the client's timeouts) and shows as a
listing or call with an `error`; the response itself goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from stackmesh_agents.items import Item, add_tool_call, mcp_call_result, new_id
from stackmesh_agents.mcp import McpClient, McpError, McpTool
from stackmesh_agents.tools import McpSpec

Event = dict[str, Any]
Events = Callable[..., Event]
# JSON-RPC's "server error" code, for failures that never reached the tool.
SERVER_ERROR_CODE = -32000
CHAT_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def _allowed(spec: McpSpec, tools: list[McpTool]) -> list[McpTool]:
    return [tool for tool in tools if spec.allowed is None or tool.name in spec.allowed]


def _listed(tool: McpTool) -> dict[str, Any]:
    listed = {"name": tool.name, "input_schema": tool.input_schema}
    if tool.description:
        listed["description"] = tool.description
    if tool.annotations:
        listed["annotations"] = tool.annotations
    return listed


class McpRun:
    """The MCP tools of one response: which chat function is which server's tool."""

    def __init__(self, client: McpClient, specs: list[McpSpec], taken_names: set[str]) -> None:
        self.client = client
        self.specs = specs
        self.taken = set(taken_names)
        self.chat_tools: list[dict[str, Any]] = []
        self.bindings: dict[str, tuple[McpSpec, str]] = {}  # chat function name → (server, tool name)

    def chat_name(self, label: str, tool: str) -> str | None:
        return next((name for name, (spec, bound) in self.bindings.items() if spec.server.label == label and bound == tool), None)

    async def list_tools(self, context: list[Item], output: list[Item], events: Events) -> AsyncIterator[Event]:
        """Lists each server's tools, unless the context already has its listing (as OpenAI
        does: a continued response does not list again)."""
        known = {item["server_label"]: item for item in context if item["type"] == "mcp_list_tools" and not item.get("error")}
        for spec in self.specs:
            previous = known.get(spec.server.label)
            if previous is not None:
                tools = [McpTool(t["name"], t.get("description"), t.get("input_schema") or {}, t.get("annotations")) for t in previous["tools"]]
                self._bind(spec, _allowed(spec, tools))
                continue
            index = len(output)
            item: Item = {"type": "mcp_list_tools", "id": new_id("mcpl"), "server_label": spec.server.label, "tools": []}
            output.append(item)
            yield events("response.output_item.added", output_index=index, item=dict(item))
            yield events("response.mcp_list_tools.in_progress", output_index=index, item_id=item["id"])
            try:
                tools = _allowed(spec, await self.client.list_tools(spec.server))
            except McpError as exc:
                item["error"] = str(exc)
                yield events("response.mcp_list_tools.failed", output_index=index, item_id=item["id"])
            else:
                item["tools"] = [_listed(tool) for tool in tools]
                self._bind(spec, tools)
                yield events("response.mcp_list_tools.completed", output_index=index, item_id=item["id"])
            yield events("response.output_item.done", output_index=index, item=item)

    def _bind(self, spec: McpSpec, tools: list[McpTool]) -> None:
        for tool in tools:
            name = CHAT_NAME_UNSAFE.sub("_", tool.name)[:64]
            if name in self.taken:
                # Two servers (or a function) share the name: the model sees it qualified.
                name = CHAT_NAME_UNSAFE.sub("_", f"{spec.server.label}__{tool.name}")[:64]
            self.taken.add(name)
            self.bindings[name] = (spec, tool.name)
            function = {"name": name, "parameters": tool.input_schema or {"type": "object", "properties": {}}}
            if tool.description:
                function["description"] = tool.description
            self.chat_tools.append({"type": "function", "function": function})

    def needs_approval(self, chat_name: str) -> bool:
        spec, tool = self.bindings[chat_name]
        return spec.needs_approval(tool)

    def ask_approval(self, chat_name: str, arguments: str, output: list[Item], events: Events) -> list[Event]:
        spec, tool = self.bindings[chat_name]
        index = len(output)
        item: Item = {"type": "mcp_approval_request", "id": new_id("mcpr"), "server_label": spec.server.label, "name": tool, "arguments": arguments or "{}"}
        output.append(item)
        return [
            events("response.output_item.added", output_index=index, item=item),
            events("response.output_item.done", output_index=index, item=item),
        ]

    async def call(
        self, chat_name: str, call_id: str, arguments: str, output: list[Item], messages: list[dict[str, Any]], events: Events,
        approval_request_id: str | None = None,
    ) -> AsyncIterator[Event]:
        """Calls the tool as an mcp_call item, which ends with its output or its error; the
        model reads that as the answer to its call `call_id`."""
        spec, tool = self.bindings[chat_name]
        arguments = arguments or "{}"
        index = len(output)
        item: Item = {"type": "mcp_call", "id": new_id("mcp"), "server_label": spec.server.label, "name": tool, "arguments": arguments, "status": "in_progress"}
        if approval_request_id:
            item["approval_request_id"] = approval_request_id
        output.append(item)
        where = {"output_index": index, "item_id": item["id"]}
        yield events("response.output_item.added", output_index=index, item=dict(item))
        yield events("response.mcp_call_arguments.delta", **where, delta=arguments)
        yield events("response.mcp_call_arguments.done", **where, arguments=arguments)
        yield events("response.mcp_call.in_progress", **where)
        try:
            parsed = json.loads(arguments)
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
        except ValueError:
            item["error"] = {"type": "mcp_protocol_error", "code": -32602, "message": f"the model's arguments are not a JSON object: {arguments[:200]}"}
        else:
            try:
                result = await self.client.call_tool(spec.server, tool, parsed)
            except McpError as exc:
                item["error"] = {"type": "mcp_protocol_error", "code": SERVER_ERROR_CODE, "message": str(exc)}
            else:
                if result.is_error:
                    item["error"] = {"type": "mcp_tool_execution_error", "content": [{"type": "input_text", "text": result.text}]}
                else:
                    item["output"] = result.text
        failed = "error" in item
        item["status"] = "failed" if failed else "completed"
        messages.append({"role": "tool", "tool_call_id": call_id, "content": mcp_call_result(item)})
        yield events("response.mcp_call.failed" if failed else "response.mcp_call.completed", **where)
        yield events("response.output_item.done", output_index=index, item=item)

    async def run_approved(self, new_input: list[Item], context: list[Item], output: list[Item], messages: list[dict[str, Any]], events: Events) -> AsyncIterator[Event]:
        """Runs the calls this request approves (declined ones the model reads from the items)."""
        requests = {item["id"]: item for item in context if item["type"] == "mcp_approval_request"}
        for answer in new_input:
            if answer["type"] != "mcp_approval_response" or not answer["approve"]:
                continue
            request = requests[answer["approval_request_id"]]
            chat_name = self.chat_name(request["server_label"], request["name"])
            add_tool_call(messages, request["id"], chat_name or request["name"], request["arguments"])
            if chat_name is None:
                # Its server is no longer among the request's tools, or lists it no more.
                messages.append({"role": "tool", "tool_call_id": request["id"], "content": f"Error: the tool {request['name']!r} is not available."})
                continue
            async for event in self.call(chat_name, request["id"], request["arguments"], output, messages, events, approval_request_id=request["id"]):
                yield event
