"""A client for remote MCP servers: lists and calls the tools of a response's `mcp` tools.

One MCP session per operation: connect, initialize, one request, close. Sessions left open
would need a long-lived task to own their anyio task groups; the listing cache saves the
round trips that matter (one listing per server and headers per TTL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx2
import pydantic
from mcp import ClientSession
from mcp import types as mcp_types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED

LOG = logging.getLogger("stackmesh.agents.mcp")
# A server that pages forever must not hang a listing.
MAX_LIST_PAGES = 100
T = TypeVar("T")
Streams = tuple[Any, Any]


@dataclass(frozen=True)
class McpServer:
    """Where an `mcp` tool's server is and the headers every request to it carries."""

    label: str
    url: str
    # Includes "Authorization: Bearer ..." when a token is given; a tuple so it can key a cache.
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class McpTool:
    """A tool as the server lists it; treat the dicts as read-only (they are shared with the cache)."""

    name: str
    description: str | None
    input_schema: dict[str, Any]
    annotations: dict[str, Any] | None


@dataclass(frozen=True)
class McpResult:
    """A tool's answer: its content as text, and whether the tool itself reported an error."""

    text: str
    is_error: bool


class McpError(Exception):
    """The server could not be reached, timed out, or broke the protocol.

    str() is a message a user can act on, naming the server's label and URL; never a traceback.
    """


def check_url(url: str) -> str | None:
    """Why `url` cannot be an MCP server's URL (a message for a 400), or None when it can."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises ValueError unless a number in range
    except ValueError:
        return "server_url is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "server_url must be an http:// or https:// URL"
    if not host:
        return "server_url must name a host"
    return None


def shown_url(url: str) -> str:
    """The URL without credentials or query: safe for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def uses_sse(url: str) -> bool:
    # Llama Stack's convention: the legacy SSE transport lives at a path ending in /sse.
    return urlsplit(url).path.endswith("/sse")


class _Failure(Exception):
    """What went wrong, before it is prefixed with the server's name."""


class _Attempt:
    """One operation on one server: the HTTP error statuses seen and which phase is running."""

    def __init__(self, client: McpClient, server: McpServer) -> None:
        self.client = client
        self.server = server
        self.error_statuses: list[int] = []
        self.phase = "connect"

    async def record_status(self, response: httpx2.Response) -> None:
        # Only the POSTs carry requests: servers may refuse the optional GET stream and DELETE (405).
        if response.request.method == "POST" and response.status_code >= 400:
            self.error_statuses.append(response.status_code)

    def is_tool_error(self, exc: MCPError) -> bool:
        """Whether a JSON-RPC error to tools/call came from the server, not from the transport failing."""
        return exc.code != CONNECTION_CLOSED and not self.error_statuses

    def http_client(self, headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None,
                    auth: httpx2.Auth | None = None) -> httpx2.AsyncClient:
        """An httpx client that records error statuses (the SDK's factory signature, for SSE)."""
        # The cancel scopes in run() bound each phase, so the SDK's suggested `timeout` is not
        # used: httpx's limits here only backstop them.
        limits = httpx2.Timeout(self.client.connect_timeout_s + self.client.call_timeout_s,
                                connect=self.client.connect_timeout_s)
        return httpx2.AsyncClient(headers=headers, timeout=limits, auth=auth,
                                  event_hooks={"response": [self.record_status]})

    @asynccontextmanager
    async def transport(self) -> AsyncIterator[Streams]:
        headers = dict(self.server.headers)
        if uses_sse(self.server.url):
            async with sse_client(self.server.url, headers=headers, httpx_client_factory=self.http_client) as streams:
                yield streams
            return
        # streamable_http_client leaves closing a client it was given to its caller.
        async with self.http_client(headers=headers) as http_client:
            async with streamable_http_client(self.server.url, http_client=http_client) as streams:
                yield streams

    async def run(self, operation: Callable[[ClientSession], Awaitable[T]]) -> T:
        """Connect and initialize within the connect timeout, then run `operation` within the call timeout.

        anyio cancel scopes in this task, not asyncio.wait_for: the SDK's task groups need
        their cancellation to come from an enclosing scope.
        """
        done = False
        scope = anyio.CancelScope(deadline=anyio.current_time() + self.client.connect_timeout_s)
        try:
            with scope:
                async with self.transport() as (read_stream, write_stream):
                    async with ClientSession(read_stream, write_stream) as session:
                        await session.initialize()
                        self.phase = "call"
                        scope.deadline = anyio.current_time() + self.client.call_timeout_s
                        result = await operation(session)
                        done = True
                        # Closing (a DELETE for streamable HTTP) is best effort once the answer is in.
                        scope.deadline = anyio.current_time() + self.client.connect_timeout_s
        except Exception:
            if not done:
                if scope.cancel_called:
                    raise self._timed_out() from None
                raise
            LOG.debug("MCP server %r: closing the session failed", self.server.label, exc_info=True)
        if not done:
            raise self._timed_out()
        return result

    def _timed_out(self) -> _Failure:
        if self.phase == "connect":
            return _Failure(f"did not answer within {self.client.connect_timeout_s:g} s")
        return _Failure(f"did not finish within {self.client.call_timeout_s:g} s")

    def failure(self, exc: BaseException) -> str:
        """A message for what `exc` (possibly an exception group from the SDK's task groups) means."""
        cause = _first_leaf(exc)
        status = self.error_statuses[0] if self.error_statuses else None
        if isinstance(cause, httpx2.HTTPStatusError):
            status = cause.response.status_code
        if status is not None:
            return _status_message(status)
        if isinstance(cause, _Failure):
            return str(cause)
        if isinstance(cause, httpx2.ConnectError):
            return "connection refused" if _caused_by(cause, ConnectionRefusedError) else f"could not connect: {cause}"
        if isinstance(cause, httpx2.TimeoutException):
            return f"did not answer within {self.client.connect_timeout_s:g} s"
        if isinstance(cause, MCPError) and cause.code == CONNECTION_CLOSED:
            return f"closed the connection: {cause.message}"
        if self.phase == "connect" and isinstance(cause, MCPError | httpx2.SSEError | pydantic.ValidationError | RuntimeError):
            # The SDK turns a reply that is not MCP (HTML, a wrong content type) into one of these.
            return f"did not complete the MCP handshake: {_one_line(cause)}"
        if isinstance(cause, MCPError):
            return f"answered with an MCP error: {cause.message}"
        if isinstance(cause, httpx2.HTTPError):
            return f"HTTP failed: {_one_line(cause)}"
        if isinstance(cause, pydantic.ValidationError):
            return f"sent a reply that is not valid MCP: {_one_line(cause)}"
        LOG.warning("MCP server %r at %s failed unexpectedly", self.server.label, shown_url(self.server.url),
                    exc_info=cause)
        return f"failed: {type(cause).__name__}: {_one_line(cause)}"


def _first_leaf(exc: BaseException) -> BaseException:
    """The first error in a (nested) exception group, passing over cancellations."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = [_first_leaf(inner) for inner in exc.exceptions]
    return next((leaf for leaf in leaves if isinstance(leaf, Exception)), leaves[0])


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _status_message(status: int) -> str:
    if status in (401, 403):
        return f"answered HTTP {status}: check the server's authorization"
    if status == 404:
        return "answered HTTP 404: check that the URL is the server's MCP endpoint"
    return f"answered HTTP {status}"


def _tool(tool: mcp_types.Tool) -> McpTool:
    annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True, mode="json") if tool.annotations else None
    return McpTool(name=tool.name, description=tool.description, input_schema=tool.input_schema, annotations=annotations)


def _part_text(part: mcp_types.ContentBlock) -> str:
    if isinstance(part, mcp_types.TextContent):
        return part.text
    if isinstance(part, mcp_types.ImageContent | mcp_types.AudioContent):
        return f"[{part.type} {part.mime_type}]"
    if isinstance(part, mcp_types.EmbeddedResource):
        resource = part.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        return f"[resource {resource.uri}]"
    return f"[resource link {part.uri}]"


def _result(result: mcp_types.CallToolResult) -> McpResult:
    text = "\n".join(_part_text(part) for part in result.content)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content)
    return McpResult(text=text, is_error=bool(result.is_error))


async def _list_all(session: ClientSession) -> list[McpTool]:
    tools: list[McpTool] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(_tool(tool) for tool in page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


CacheKey = tuple[str, tuple[tuple[str, str], ...]]


class McpClient:
    """Lists and calls tools on MCP servers, every operation bounded in time. Use from one event loop."""

    def __init__(self, connect_timeout_s: float = 10.0, call_timeout_s: float = 60.0,
                 list_cache_ttl_s: float = 300.0) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.call_timeout_s = call_timeout_s
        self.list_cache_ttl_s = list_cache_ttl_s
        self._listings: dict[CacheKey, tuple[float, list[McpTool]]] = {}
        self._fetching: dict[CacheKey, asyncio.Task[list[McpTool]]] = {}

    async def list_tools(self, server: McpServer) -> list[McpTool]:
        """The server's tools, from the cache while fresh; concurrent callers share one fetch."""
        key: CacheKey = (server.url, server.headers)
        cached = self._listings.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return list(cached[1])
        fetch = self._fetching.get(key)
        if fetch is None:
            fetch = asyncio.create_task(self._fetch_listing(server, key), name=f"mcp-list-tools-{server.label}")
            self._fetching[key] = fetch
            fetch.add_done_callback(lambda done: self._forget_fetch(key, done))
        # Shielded: one caller giving up must not cancel the fetch the others wait on.
        return list(await asyncio.shield(fetch))

    async def call_tool(self, server: McpServer, name: str, arguments: dict[str, Any]) -> McpResult:
        """Call a tool; a tool that fails answers is_error, a server that fails raises McpError."""
        attempt = self._attempt(server)
        request = mcp_types.CallToolRequest(params=mcp_types.CallToolRequestParams(name=name, arguments=arguments))

        async def call(session: ClientSession) -> McpResult:
            try:
                # send_request, not session.call_tool: that lists the tools again to validate structured output.
                return _result(await session.send_request(request, mcp_types.CallToolResult))
            except MCPError as exc:
                if not attempt.is_tool_error(exc):
                    raise
                # A JSON-RPC error to tools/call (unknown tool, bad arguments): the model can react to it.
                return McpResult(text=exc.message, is_error=True)

        result = await self._run(attempt, call, f"call {name!r}")
        LOG.info("MCP server %r at %s: called %r (error=%s)", server.label, shown_url(server.url), name,
                 result.is_error)
        return result

    async def close(self) -> None:
        """Cancel listings in flight and forget cached ones."""
        fetches = list(self._fetching.values())
        for fetch in fetches:
            fetch.cancel()
        await asyncio.gather(*fetches, return_exceptions=True)
        self._fetching.clear()
        self._listings.clear()

    def _forget_fetch(self, key: CacheKey, fetch: asyncio.Task[list[McpTool]]) -> None:
        if self._fetching.get(key) is fetch:
            del self._fetching[key]
        if not fetch.cancelled():
            fetch.exception()  # retrieved: callers may all have given up on it

    async def _fetch_listing(self, server: McpServer, key: CacheKey) -> list[McpTool]:
        started = time.monotonic()
        tools = await self._run(self._attempt(server), _list_all, "list tools")
        now = time.monotonic()
        for stale in [k for k, (expires, _) in self._listings.items() if expires <= now]:
            del self._listings[stale]
        self._listings[key] = (now + self.list_cache_ttl_s, tools)
        LOG.info("MCP server %r at %s: listed %d tools in %.0f ms", server.label, shown_url(server.url), len(tools),
                 (now - started) * 1000)
        return tools

    def _attempt(self, server: McpServer) -> _Attempt:
        problem = check_url(server.url)
        if problem is not None:
            raise McpError(f"MCP server {server.label!r}: {problem}")
        return _Attempt(self, server)

    async def _run(self, attempt: _Attempt, operation: Callable[[ClientSession], Awaitable[T]], what: str) -> T:
        try:
            return await attempt.run(operation)
        except Exception as exc:  # every failure, exception groups included, becomes one actionable McpError
            server = attempt.server
            message = f"MCP server {server.label!r} at {shown_url(server.url)}: {attempt.failure(exc)}"
            LOG.warning("%s (%s)", message, what)
            raise McpError(message) from None
