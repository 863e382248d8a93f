"""A response's tools as the model sees them: each becomes a chat function tool.

Function tools are the caller's: a call ends the response with a `function_call` item.
`file_search` runs here: the model sees a `file_search(query)` function and the service
runs the search over the vector_io service. An `mcp` tool is a remote MCP server whose
tools are listed when the response starts (see mcp_tools.py); this module only checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from stackmesh_common.errors import InvalidArgument
from stackmesh_agents.mcp import McpServer, check_url

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FILE_SEARCH = "file_search"
MCP = "mcp"
TOOL_TYPES = ("function", FILE_SEARCH, MCP)
SERVER_LABEL = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FILE_SEARCH_FUNCTION = {
    "type": "function",
    "function": {
        "name": FILE_SEARCH,
        "description": "Search the attached files for passages relevant to a query; returns the passages with their file names.",
        "parameters": {
            "type": "object",
            # Bounded: a constrained small model otherwise rambles until max_output_tokens.
            "properties": {"query": {"type": "string", "maxLength": 60}},
            "required": ["query"],
        },
    },
}


@dataclass(frozen=True)
class McpSpec:
    """An `mcp` tool of a request: its server, which of its tools the model may call, and
    which calls wait for the caller's approval."""

    server: McpServer
    allowed: frozenset[str] | None  # None: all of them
    approval_always: bool  # the default for tools named in neither list
    approval_never: frozenset[str] = frozenset()
    approval_required: frozenset[str] = frozenset()

    def needs_approval(self, tool: str) -> bool:
        if tool in self.approval_required:
            return True
        return False if tool in self.approval_never else self.approval_always


@dataclass(frozen=True)
class Toolset:
    """The chat tools for the model and which of their names run in this service (MCP
    servers' tools join them once listed)."""

    chat_tools: list[dict[str, Any]]
    functions: set[str]
    file_search: dict[str, Any] | None
    mcp: list[McpSpec] = field(default_factory=list)

    def is_server_side(self, name: str) -> bool:
        return name == FILE_SEARCH and self.file_search is not None


def _function(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not FUNCTION_NAME.match(name):
        raise InvalidArgument(f"`{where}.name` is required: 1-64 letters, digits, underscores or dashes", param=f"{where}.name")
    parameters = tool.get("parameters")
    if parameters is not None:
        try:
            jsonschema.validators.validator_for(parameters).check_schema(parameters)
        except jsonschema.SchemaError as exc:
            raise InvalidArgument(f"`{where}.parameters` is not a valid JSON Schema: {exc.message}", param=f"{where}.parameters") from None
    function = {"name": name, "parameters": parameters or {"type": "object", "properties": {}}}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_names(value: Any, where: str) -> frozenset[str]:
    """A list of tool names, or OpenAI's {"tool_names": [...]} filter."""
    names = value.get("tool_names") if isinstance(value, dict) else value
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        raise InvalidArgument(f"`{where}` must be a list of tool names or {{\"tool_names\": [...]}}", param=where)
    return frozenset(names)


def _mcp(tool: dict[str, Any], where: str) -> McpSpec:
    label = tool.get("server_label")
    if not isinstance(label, str) or not SERVER_LABEL.match(label):
        raise InvalidArgument(f"`{where}.server_label` is required: 1-64 letters, digits, underscores or dashes", param=f"{where}.server_label")
    if tool.get("connector_id"):
        raise InvalidArgument(f"`{where}.connector_id`: connectors are not offered here; give the server's `server_url`", param=f"{where}.connector_id")
    url = tool.get("server_url")
    problem = "server_url is required" if not isinstance(url, str) or not url else check_url(url)
    if problem:
        raise InvalidArgument(f"`{where}.server_url`{problem.removeprefix('server_url')}", param=f"{where}.server_url")
    headers = tool.get("headers") or {}
    if not all(isinstance(value, str) for value in headers.values()):
        raise InvalidArgument(f"`{where}.headers` values must be strings", param=f"{where}.headers")
    if tool.get("authorization"):
        headers = {**headers, "Authorization": f"Bearer {tool['authorization']}"}
    allowed = tool.get("allowed_tools")
    approval = tool.get("require_approval", "never")
    server = McpServer(label, url, tuple(sorted(headers.items())))
    allowed_names = None if allowed is None else _tool_names(allowed, f"{where}.allowed_tools")
    if approval in ("always", "never"):
        return McpSpec(server, allowed_names, approval_always=approval == "always")
    if not isinstance(approval, dict) or not set(approval) <= {"always", "never"}:
        raise InvalidArgument(
            f'`{where}.require_approval` must be "always", "never" or {{"always": {{"tool_names": [...]}}, "never": {{"tool_names": [...]}}}}',
            param=f"{where}.require_approval",
        )
    required = _tool_names(approval["always"], f"{where}.require_approval.always") if "always" in approval else frozenset()
    never = _tool_names(approval["never"], f"{where}.require_approval.never") if "never" in approval else frozenset()
    # Tools named in neither list need approval, as OpenAI's default is to ask.
    return McpSpec(server, allowed_names, approval_always=True, approval_never=never, approval_required=required)


def toolset(tools: list[dict[str, Any]]) -> Toolset:
    chat_tools, functions, file_search, mcp = [], set(), None, []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        kind = tool.get("type")
        if kind == "function":
            chat_tool = _function(tool, where)
            name = chat_tool["function"]["name"]
            if name in functions or name == FILE_SEARCH and file_search is not None:
                raise InvalidArgument(f"`{where}.name` repeats the tool name {name!r}", param=f"{where}.name")
            functions.add(name)
            chat_tools.append(chat_tool)
        elif kind == FILE_SEARCH:
            if file_search is not None or FILE_SEARCH in functions:
                raise InvalidArgument(f"`{where}`: a response takes one file_search tool", param=where)
            if not tool.get("vector_store_ids"):
                raise InvalidArgument(f"`{where}.vector_store_ids` is required: the vector stores to search", param=f"{where}.vector_store_ids")
            max_results = tool.get("max_num_results")
            if max_results is not None and not 1 <= max_results <= 50:
                raise InvalidArgument(f"`{where}.max_num_results` must be between 1 and 50", param=f"{where}.max_num_results")
            file_search = tool
            chat_tools.append(FILE_SEARCH_FUNCTION)
        elif kind == MCP:
            spec = _mcp(tool, where)
            if any(other.server.label == spec.server.label for other in mcp):
                raise InvalidArgument(f"`{where}.server_label` repeats the label {spec.server.label!r}", param=f"{where}.server_label")
            mcp.append(spec)
        else:
            raise InvalidArgument(f"`{where}.type` must be one of {', '.join(TOOL_TYPES)}, got {kind!r}", param=f"{where}.type")
    return Toolset(chat_tools, functions, file_search, mcp)


def chat_tool_choice(choice: Any, tools: Toolset) -> Any:
    """OpenAI Responses' tool_choice as the chat completions one."""
    if choice is None or choice in ("auto", "none", "required"):
        if choice == "required" and not tools.chat_tools and not tools.mcp:
            raise InvalidArgument("`tool_choice` is `required` but the request has no `tools`", param="tool_choice")
        return choice
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        name = choice.get("name")
        if name not in tools.functions:
            raise InvalidArgument(f"`tool_choice.name` {name!r} is not one of the request's function tools", param="tool_choice")
        return {"type": "function", "function": {"name": name}}
    if kind == FILE_SEARCH:
        if tools.file_search is None:
            raise InvalidArgument("`tool_choice` is file_search but the request has no file_search tool", param="tool_choice")
        return {"type": "function", "function": {"name": FILE_SEARCH}}
    if kind == MCP:
        # Resolved to the tool's chat function once the server's tools are listed.
        label = choice.get("server_label")
        if not any(spec.server.label == label for spec in tools.mcp):
            raise InvalidArgument(f"`tool_choice.server_label` {label!r} is not one of the request's mcp tools", param="tool_choice")
        return {"type": MCP, "server_label": label, "name": choice.get("name")}
    raise InvalidArgument(
        '`tool_choice` must be "auto", "none", "required", {"type": "function", "name": …}, {"type": "file_search"} or {"type": "mcp", …}',
        param="tool_choice",
    )


def response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    """`text.format` as a chat completion's response_format."""
    fmt = (text or {}).get("format") or {}
    kind = fmt.get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise InvalidArgument("`text.format.schema` is required for type json_schema", param="text.format.schema")
        schema = {"name": fmt.get("name") or "response", "schema": fmt["schema"]}
        if fmt.get("strict") is not None:
            schema["strict"] = fmt["strict"]
        return {"type": "json_schema", "json_schema": schema}
    raise InvalidArgument(f"`text.format.type` must be text, json_object or json_schema, got {kind!r}", param="text.format.type")
