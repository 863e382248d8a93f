"""A response's tools as the model sees them: each becomes a chat function tool.

Function tools are the caller's: a call ends the response with a `function_call` item.
`file_search` runs here: the model sees a `file_search(query)` function and the service
runs the search over the vector_io service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from stackmesh_common.errors import InvalidArgument

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FILE_SEARCH = "file_search"
TOOL_TYPES = ("function", FILE_SEARCH)
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
class Toolset:
    """The chat tools for the model and which of their names run in this service."""

    chat_tools: list[dict[str, Any]]
    functions: set[str]
    file_search: dict[str, Any] | None

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


def toolset(tools: list[dict[str, Any]]) -> Toolset:
    chat_tools, functions, file_search = [], set(), None
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
        else:
            raise InvalidArgument(f"`{where}.type` must be one of {', '.join(TOOL_TYPES)}, got {kind!r}", param=f"{where}.type")
    return Toolset(chat_tools, functions, file_search)


def chat_tool_choice(choice: Any, tools: Toolset) -> Any:
    """OpenAI Responses' tool_choice as the chat completions one."""
    if choice is None or choice in ("auto", "none", "required"):
        if choice == "required" and not tools.chat_tools:
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
    raise InvalidArgument(
        '`tool_choice` must be "auto", "none", "required", {"type": "function", "name": …} or {"type": "file_search"}',
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
