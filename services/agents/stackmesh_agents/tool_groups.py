"""Llama Stack's tool groups: registered groups of tools (resources of kind "tool_groups"),
the tool-runtime providers that serve them — `rag-runtime`'s knowledge_search over the
vector_io service and `model-context-protocol` servers — and finding a tool by its name.

Tools are named globally, as in Llama Stack, but a name two groups offer is never resolved by
picking one: it must be qualified as `<toolgroup_id>/<tool_name>` (Llama Stack's
"builtin::rag/knowledge_search" form)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool

from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from stackmesh_common.resources import Resource, ResourceRegistry
from stackmesh_agents.file_search import FileSearch
from stackmesh_agents.mcp import McpClient, McpError, McpServer, check_url

log = logging.getLogger("stackmesh.agents.tool_groups")

RAG_PROVIDER = "rag-runtime"
MCP_PROVIDER = "model-context-protocol"
# The group the distribution provides when it has the vector_io service.
BUILTIN_RAG = "builtin::rag"
# Llama Stack's `error_code` of a failed tool call.
TOOL_ERROR_CODE = 1
# Llama Stack's RAGQueryConfig default.
DEFAULT_MAX_CHUNKS = 5
# Where knowledge_search reads its vector stores: Llama Stack's older name, then its newer one.
VECTOR_STORE_KEYS = ("vector_db_ids", "vector_store_ids")


@dataclass(frozen=True)
class ToolGroup:
    identifier: str
    provider_id: str
    # URL of the MCP server of a model-context-protocol group.
    mcp_endpoint: str | None = None
    args: dict[str, Any] | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    description: str | None
    input_schema: dict[str, Any] | None
    toolgroup_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolResult:
    # Interleaved content: text items {"type": "text", "text": ...}.
    content: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    error_message: str | None = None
    error_code: int | None = None


class ToolRuntime(Protocol):
    """A tool-runtime provider: what its groups offer and how their tools run."""

    def check(self, group: ToolGroup) -> None:
        """Raises InvalidArgument for a group this provider cannot serve."""

    async def list_tools(self, group: ToolGroup, authorization: str | None) -> list[Tool]:
        """The group's tools; Unavailable when their server cannot be reached."""

    async def invoke(self, group: ToolGroup, tool: str, kwargs: dict[str, Any], authorization: str | None) -> ToolResult: ...


KNOWLEDGE_SEARCH = Tool(
    name="knowledge_search",
    description="Search for information in a database.",
    input_schema={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "The query to search for. Can be a natural language sentence or keywords."}
        },
        "required": ["query"],
    },
)


class RagRuntime:
    """`rag-runtime`: knowledge_search over the vector stores the call names, else its group's args."""

    def __init__(self, file_search: FileSearch) -> None:
        self.file_search = file_search

    def check(self, group: ToolGroup) -> None:
        if group.mcp_endpoint:
            raise InvalidArgument(f"`mcp_endpoint` is for {MCP_PROVIDER} tool groups, not {RAG_PROVIDER} ones", param="mcp_endpoint")
        for key in VECTOR_STORE_KEYS:
            if (group.args or {}).get(key) is not None:
                _store_ids(group.args[key], f"args.{key}")

    async def list_tools(self, group: ToolGroup, authorization: str | None) -> list[Tool]:
        return [KNOWLEDGE_SEARCH]

    async def invoke(self, group: ToolGroup, tool: str, kwargs: dict[str, Any], authorization: str | None) -> ToolResult:
        query = kwargs.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgument("`kwargs.query` is required: the text to search for", param="kwargs.query")
        store_ids, param = _vector_stores(kwargs, group.args or {})
        max_chunks = _max_chunks(kwargs.get("query_config"))
        for store_id in store_ids:
            # Unknown stores are the caller's 404, naming where the ids came from.
            await self.file_search.vector_io.get_vector_store(store_id, timeout_s=self.file_search.timeout_s, param=param)
        found = await asyncio.gather(*(self._search(store_id, query, max_chunks) for store_id in store_ids))
        hits = sorted((hit for store_hits in found for hit in store_hits), key=lambda hit: hit["score"], reverse=True)[:max_chunks]
        return _knowledge(query, hits)

    async def _search(self, store_id: str, query: str, limit: int) -> list[dict[str, Any]]:
        outcome = await self.file_search.run({"vector_store_ids": [store_id], "max_num_results": limit}, query, include_results=True)
        return [{**result, "vector_store_id": store_id} for result in outcome.item["results"]]


def _store_ids(value: Any, param: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InvalidArgument(f"`{param}` must be a list of vector store IDs", param=param)
    return value


def _vector_stores(kwargs: dict[str, Any], args: dict[str, Any]) -> tuple[list[str], str]:
    """The stores to search and the parameter that named them: the call's, else the group's."""
    for source, where in ((kwargs, "kwargs"), (args, "args")):
        for key in VECTOR_STORE_KEYS:
            if source.get(key) is not None and (ids := _store_ids(source[key], f"{where}.{key}")):
                return ids, f"{where}.{key}"
    raise InvalidArgument(
        "knowledge_search needs vector stores: pass `vector_db_ids` in `kwargs`, or register its tool group with them in `args`",
        param="kwargs.vector_db_ids",
    )


def _max_chunks(query_config: Any) -> int:
    """Llama Stack's `query_config.max_chunks`, the one RAGQueryConfig knob a search here honours."""
    if query_config is None:
        return DEFAULT_MAX_CHUNKS
    if not isinstance(query_config, dict):
        raise InvalidArgument("`kwargs.query_config` must be an object", param="kwargs.query_config")
    value = query_config.get("max_chunks", DEFAULT_MAX_CHUNKS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        param = "kwargs.query_config.max_chunks"
        raise InvalidArgument(f"`{param}` must be a whole number of at least 1", param=param)
    return value


def _knowledge(query: str, hits: list[dict[str, Any]]) -> ToolResult:
    """Llama Stack's knowledge_search answer: the passages between BEGIN and END markers, each
    with its file, then a reminder of the query they answer."""
    metadata = {
        "document_ids": [hit["file_id"] for hit in hits],
        "filenames": [hit["filename"] for hit in hits],
        "chunks": [hit["text"] for hit in hits],
        "scores": [hit["score"] for hit in hits],
        "vector_store_ids": [hit["vector_store_id"] for hit in hits],
    }
    if not hits:
        return ToolResult([], metadata)
    texts = [f"knowledge_search tool found {len(hits)} chunks:\nBEGIN of knowledge_search tool results.\n"]
    for number, hit in enumerate(hits, start=1):
        context = {**hit["attributes"], "document_id": hit["file_id"], "filename": hit["filename"]}
        texts.append(f"Result {number}\nContent: {hit['text']}\nMetadata: {context}\n")
    texts.append("END of knowledge_search tool results.\n")
    texts.append(
        f'The above results were retrieved to help answer the user\'s query: "{query}". '
        "Use them as supporting information only in answering this query.\n"
    )
    return ToolResult([{"type": "text", "text": text} for text in texts], metadata)


class McpRuntime:
    """`model-context-protocol`: the tools of the MCP server at each group's `mcp_endpoint`."""

    def __init__(self, client: McpClient) -> None:
        self.client = client

    def check(self, group: ToolGroup) -> None:
        if not group.mcp_endpoint:
            raise InvalidArgument(f"{MCP_PROVIDER} tool groups need `mcp_endpoint.uri`, the URL of their MCP server", param="mcp_endpoint")
        check_endpoint(group.mcp_endpoint, "mcp_endpoint.uri")

    async def list_tools(self, group: ToolGroup, authorization: str | None) -> list[Tool]:
        try:
            tools = await self.client.list_tools(_server(group, authorization))
        except McpError as exc:
            # The message names the server; 503 as for any peer that cannot be reached now.
            raise Unavailable(str(exc)) from None
        return [
            Tool(
                tool.name,
                tool.description,
                tool.input_schema,
                metadata={"endpoint": group.mcp_endpoint, **({"annotations": tool.annotations} if tool.annotations else {})},
            )
            for tool in tools
        ]

    async def invoke(self, group: ToolGroup, tool: str, kwargs: dict[str, Any], authorization: str | None) -> ToolResult:
        try:
            result = await self.client.call_tool(_server(group, authorization), tool, kwargs)
        except McpError as exc:
            # A failed call is the tool's answer, as a tool error is: the caller (often a
            # model) reads why, rather than the whole request failing.
            return ToolResult([], error_message=str(exc), error_code=TOOL_ERROR_CODE)
        content = [{"type": "text", "text": result.text}]
        if result.is_error:
            return ToolResult(content, error_message=result.text, error_code=TOOL_ERROR_CODE)
        return ToolResult(content)


def check_endpoint(url: str, param: str) -> None:
    if problem := check_url(url):
        # check_url words its answer for a Responses `mcp` tool's `server_url`.
        raise InvalidArgument(f"`{param}` {problem.removeprefix('server_url ')}", param=param)


def _server(group: ToolGroup, authorization: str | None) -> McpServer:
    assert group.mcp_endpoint is not None
    headers = (("Authorization", f"Bearer {authorization}"),) if authorization else ()
    return McpServer(label=group.identifier or group.mcp_endpoint, url=group.mcp_endpoint, headers=headers)


def tool_runtimes(file_search: FileSearch | None, mcp: McpClient) -> dict[str, ToolRuntime]:
    """The providers this service offers: knowledge_search only when vector_io is a peer."""
    runtimes: dict[str, ToolRuntime] = {MCP_PROVIDER: McpRuntime(mcp)}
    if file_search is not None:
        runtimes[RAG_PROVIDER] = RagRuntime(file_search)
    return runtimes


def _resource(group: ToolGroup) -> Resource:
    params = {key: value for key, value in (("mcp_endpoint", group.mcp_endpoint), ("args", group.args)) if value is not None}
    return Resource(group.identifier, group.provider_id, group.identifier, params=params)


def _group(resource: Resource) -> ToolGroup:
    return ToolGroup(resource.id, resource.provider_id, resource.params.get("mcp_endpoint"), resource.params.get("args"))


async def _servable(resource: Resource) -> Resource:
    # Nothing to load: an MCP server is reached when its tools are listed or called.
    return resource


class ToolGroups:
    """The registered tool groups and their tools."""

    def __init__(self, pool: AsyncConnectionPool, runtimes: dict[str, ToolRuntime]) -> None:
        self.runtimes = runtimes
        self.registry = ResourceRegistry(pool, "tool_groups", runtimes, noun="tool group", activate=_servable)

    async def start(self) -> None:
        """Provides builtin::rag (rewritten at every start, as distribution resources are)."""
        seeded = [Resource(BUILTIN_RAG, RAG_PROVIDER, BUILTIN_RAG)] if RAG_PROVIDER in self.runtimes else []
        await self.registry.start(seeded)

    async def register(self, group: ToolGroup) -> ToolGroup:
        """Stores a group for the caller; registering the same definition again is a no-op,
        a different one under a taken ID is a 409."""
        if not group.identifier:
            raise InvalidArgument("`toolgroup_id` is required", param="toolgroup_id")
        if "/" in group.identifier:
            raise InvalidArgument("`toolgroup_id` cannot contain '/', which separates a tool group from a tool name", param="toolgroup_id")
        group = replace(group, provider_id=self.registry.default_provider(group.provider_id))
        self.runtimes[group.provider_id].check(group)
        resource = _resource(group)
        try:
            existing = await self.registry.get(group.identifier, "toolgroup_id")
        except NotFound:
            return _group(await self.registry.register(resource, param="toolgroup_id"))
        if (existing.provider_id, existing.params) != (resource.provider_id, resource.params):
            raise AlreadyExists(
                f"Tool group '{group.identifier}' is already registered with another definition: unregister it first",
                param="toolgroup_id",
            )
        return _group(existing)

    async def get(self, toolgroup_id: str, param: str = "toolgroup_id") -> ToolGroup:
        return _group(await self.registry.get(toolgroup_id, param))

    async def list(self) -> list[ToolGroup]:
        return [_group(resource) for resource in await self.registry.list()]

    async def unregister(self, toolgroup_id: str) -> None:
        await self.registry.unregister(toolgroup_id, param="toolgroup_id")

    async def tools(self, toolgroup_id: str | None, authorization: str | None = None, param: str = "toolgroup_id") -> list[Tool]:
        """The tools of one group, or of every group whose server can be reached now."""
        if toolgroup_id:
            return await self._tools(await self.get(toolgroup_id, param), authorization)
        listed = await asyncio.gather(*(self._reachable_tools(group, authorization) for group in await self.list()))
        return [tool for tools in listed if tools for tool in tools]

    async def server_tools(self, url: str, authorization: str | None) -> list[Tool]:
        """The tools of an MCP server no group is registered for."""
        check_endpoint(url, "mcp_endpoint.uri")
        return await self.runtimes[MCP_PROVIDER].list_tools(ToolGroup("", MCP_PROVIDER, url), authorization)

    async def find_tool(self, name: str, authorization: str | None = None) -> tuple[ToolGroup, Tool]:
        """The tool a name means: `<toolgroup_id>/<tool_name>`, or a name one group offers."""
        if not name:
            raise InvalidArgument("`tool_name` is required", param="tool_name")
        groups, tool_name = await self._candidates(name)
        listed = await asyncio.gather(*(self._reachable_tools(group, authorization) for group in groups))
        matches = [(group, tool) for group, tools in zip(groups, listed) for tool in tools or () if tool.name == tool_name]
        unreachable = [group.identifier for group, tools in zip(groups, listed) if tools is None]
        if len(matches) > 1:
            offering = ", ".join(f"'{group.identifier}'" for group, _ in matches)
            raise InvalidArgument(
                f"Tool '{tool_name}' is offered by several tool groups ({offering}): "
                f"name it as '<toolgroup_id>/{tool_name}', e.g. '{matches[0][0].identifier}/{tool_name}'",
                param="tool_name",
                reason="ambiguous_tool",
            )
        if not matches:
            unreached = f"; tool groups {', '.join(unreachable)} could not be reached to list their tools" if unreachable else ""
            raise NotFound(f"Tool '{name}' not found{unreached}", param="tool_name", reason="tool_not_found")
        return matches[0]

    async def invoke(self, name: str, kwargs: dict[str, Any], authorization: str | None) -> ToolResult:
        group, tool = await self.find_tool(name, authorization)
        return await self.runtimes[group.provider_id].invoke(group, tool.name, kwargs, authorization)

    async def _candidates(self, name: str) -> tuple[list[ToolGroup], str]:
        """The groups to look for the tool in, and the tool's own name."""
        toolgroup_id, _, tool_name = name.rpartition("/")
        if toolgroup_id:
            try:
                return [await self.get(toolgroup_id, "tool_name")], tool_name
            except NotFound:
                pass
        return await self.list(), name

    async def _tools(self, group: ToolGroup, authorization: str | None) -> list[Tool]:
        tools = await self.runtimes[group.provider_id].list_tools(group, authorization)
        return [replace(tool, toolgroup_id=group.identifier) for tool in tools]

    async def _reachable_tools(self, group: ToolGroup, authorization: str | None) -> list[Tool] | None:
        """The group's tools, or None (logged) when its server cannot be reached now."""
        try:
            return await self._tools(group, authorization)
        except Unavailable as exc:
            log.warning("leaving out the tools of tool group %s: %s", group.identifier, exc.message)
            return None

