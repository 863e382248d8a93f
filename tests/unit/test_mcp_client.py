"""The agents service's MCP client against a real MCP server (both transports) and broken ones."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Iterator

import httpx
import pytest

from stackmesh_agents.mcp import McpClient, McpError, McpServer, check_url
from tests.support.mcp_server import McpServerProcess, hanging_server, plain_http_server

TOKEN = "Bearer s3cret-token"


@pytest.fixture(scope="module")
def http_server() -> Iterator[McpServerProcess]:
    with McpServerProcess("streamable-http") as server:
        yield server


@pytest.fixture(scope="module")
def sse_server() -> Iterator[McpServerProcess]:
    with McpServerProcess("sse") as server:
        yield server


@pytest.fixture(params=["streamable-http", "sse"])
def server(request: pytest.FixtureRequest) -> McpServerProcess:
    return request.getfixturevalue("http_server" if request.param == "streamable-http" else "sse_server")


@pytest.fixture
async def client() -> McpClient:
    client = McpClient(connect_timeout_s=5, call_timeout_s=10)
    yield client
    await client.close()


def listings(server: McpServerProcess) -> int:
    """How many tools/list requests the server has served."""
    return httpx.get(f"{server.base_url}/stats", timeout=5).json()["tools_list"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def failure(coroutine, within_s: float) -> str:
    """The McpError message the coroutine raises, checked to come within `within_s`."""
    started = time.monotonic()
    with pytest.raises(McpError) as raised:
        await coroutine
    assert time.monotonic() - started < within_s
    return str(raised.value)


async def test_lists_the_tools_with_their_schemas(server: McpServerProcess, client: McpClient):
    """Both transports list every tool, with descriptions and input schemas."""
    tools = {tool.name: tool for tool in await client.list_tools(McpServer("test", server.url))}
    assert {"get_weather", "add", "whoami", "fail", "sleep"} <= set(tools)
    weather = tools["get_weather"]
    assert weather.description == "Get the current weather in a city."
    assert weather.input_schema["properties"]["city"]["type"] == "string"
    assert weather.input_schema["required"] == ["city"]


async def test_calls_return_the_tools_text(server: McpServerProcess, client: McpClient):
    """A call answers the tool's content as text; structured results come with their text form."""
    target = McpServer("test", server.url)
    weather = await client.call_tool(target, "get_weather", {"city": "Paris"})
    assert (weather.text, weather.is_error) == ("The weather in Paris is sunny, 21 degrees Celsius.", False)
    assert (await client.call_tool(target, "add", {"a": 2, "b": 40})).text == "42"


async def test_the_authorization_header_reaches_the_server(server: McpServerProcess, client: McpClient):
    """Headers given with the server are sent with its requests; none are sent by default."""
    with_token = McpServer("test", server.url, (("Authorization", TOKEN),))
    assert (await client.call_tool(with_token, "whoami", {})).text == TOKEN
    assert (await client.call_tool(McpServer("test", server.url), "whoami", {})).text == "anonymous"


async def test_a_tool_that_raises_is_an_error_result(http_server: McpServerProcess, client: McpClient):
    """The tool's failure is the model's to read, not a client error."""
    result = await client.call_tool(McpServer("test", http_server.url), "fail", {"message": "the sky fell"})
    assert result.is_error
    assert "the sky fell" in result.text


async def test_unknown_tools_and_bad_arguments_are_error_results(http_server: McpServerProcess, client: McpClient):
    """Mistakes the model can fix come back as error results it can read."""
    target = McpServer("test", http_server.url)
    unknown = await client.call_tool(target, "no_such_tool", {})
    assert unknown.is_error and "no_such_tool" in unknown.text
    wrong = await client.call_tool(target, "add", {"a": "two"})
    assert wrong.is_error and "b" in wrong.text


async def test_non_text_content_is_summarised(http_server: McpServerProcess, client: McpClient):
    """An image part becomes a short marker instead of base64."""
    result = await client.call_tool(McpServer("test", http_server.url), "pixel", {})
    assert result == type(result)(text="[image image/png]", is_error=False)


async def test_listings_are_cached_per_url_and_headers(http_server: McpServerProcess, client: McpClient):
    """A second listing comes from the cache; other headers are another cache entry."""
    before = listings(http_server)
    first = await client.list_tools(McpServer("a", http_server.url))
    second = await client.list_tools(McpServer("b", http_server.url))
    assert [tool.name for tool in first] == [tool.name for tool in second]
    assert listings(http_server) == before + 1
    await client.list_tools(McpServer("a", http_server.url, (("Authorization", TOKEN),)))
    assert listings(http_server) == before + 2


async def test_listings_expire_after_the_ttl(http_server: McpServerProcess):
    """Once the TTL passes the server is asked again."""
    client = McpClient(list_cache_ttl_s=0.2)
    target = McpServer("test", http_server.url)
    before = listings(http_server)
    await client.list_tools(target)
    await client.list_tools(target)
    assert listings(http_server) == before + 1
    await asyncio.sleep(0.3)
    await client.list_tools(target)
    assert listings(http_server) == before + 2
    await client.close()


async def test_concurrent_listings_share_one_fetch(sse_server: McpServerProcess, client: McpClient):
    """Callers listing the same server at once wait on the same request."""
    before = listings(sse_server)
    results = await asyncio.gather(*(client.list_tools(McpServer("test", sse_server.url)) for _ in range(5)))
    assert all(len(tools) == len(results[0]) > 0 for tools in results)
    assert listings(sse_server) == before + 1


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_a_server_that_is_down_fails_fast(path: str, client: McpClient):
    """Connection refused is an McpError naming the server, in well under the timeouts."""
    url = f"http://127.0.0.1:{free_port()}{path}"
    message = await failure(client.list_tools(McpServer("weather", url)), within_s=5)
    assert message == f"MCP server 'weather' at {url}: connection refused"


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_a_server_that_never_answers_times_out(path: str):
    """A server that accepts connections and says nothing fails within the connect timeout."""
    client = McpClient(connect_timeout_s=1)
    with hanging_server() as url:
        url = url.removesuffix("/mcp") + path
        message = await failure(client.list_tools(McpServer("stuck", url)), within_s=1 + 2)
    assert message == f"MCP server 'stuck' at {url}: did not answer within 1 s"


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
@pytest.mark.parametrize(("status", "hint"), [(404, "MCP endpoint"), (401, "authorization")])
async def test_http_errors_say_what_to_check(path: str, status: int, hint: str, client: McpClient):
    """A plain web server's 404 or 401 is an McpError with the status and what to check."""
    with plain_http_server(status) as base_url:
        target = McpServer("web", base_url + path, (("Authorization", TOKEN),))
        message = await failure(client.call_tool(target, "get_weather", {"city": "Paris"}), within_s=5)
    assert f"MCP server 'web' at {base_url}{path}: answered HTTP {status}" in message
    assert hint in message


async def test_html_instead_of_mcp_is_an_error(client: McpClient):
    """A 200 answer that is not MCP fails the handshake rather than hanging or leaking a group."""
    with plain_http_server(200) as base_url:
        message = await failure(client.list_tools(McpServer("web", base_url + "/mcp")), within_s=5)
    assert "did not complete the MCP handshake" in message


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_a_slow_tool_times_out(transport: str, request: pytest.FixtureRequest):
    """A call that outlives the call timeout is an McpError, within the bound."""
    server = request.getfixturevalue("http_server" if transport == "streamable-http" else "sse_server")
    client = McpClient(connect_timeout_s=5, call_timeout_s=1)
    target = McpServer("slow", server.url)
    message = await failure(client.call_tool(target, "sleep", {"seconds": 10}), within_s=1 + 2)
    assert message == f"MCP server 'slow' at {server.url}: did not finish within 1 s"
    assert (await client.call_tool(target, "sleep", {"seconds": 0})).text == "slept"


def test_check_url_accepts_only_http_urls_with_a_host():
    assert check_url("http://localhost:8000/mcp") is None
    assert check_url("https://mcp.example.com/sse") is None
    assert check_url("ftp://example.com/mcp") == "server_url must be an http:// or https:// URL"
    for bad in ("file:///etc/passwd", "localhost:8000/mcp", "http:///mcp", "http://host:99999/mcp"):
        assert check_url(bad) is not None, bad


async def test_non_http_urls_are_rejected_before_connecting(client: McpClient):
    message = await failure(client.list_tools(McpServer("files", "file:///etc/passwd")), within_s=1)
    assert message == "MCP server 'files': server_url must be an http:// or https:// URL"


async def test_messages_and_logs_never_carry_secrets(caplog: pytest.LogCaptureFixture, client: McpClient):
    """Neither the Authorization header nor credentials in the URL reach messages or logs."""
    caplog.set_level(logging.DEBUG, logger="stackmesh.agents.mcp")
    with plain_http_server(401) as base_url:
        url = base_url.replace("http://", "http://user:hunter2@") + "/mcp?api_key=k3y"
        message = await failure(client.list_tools(McpServer("web", url, (("Authorization", TOKEN),))), within_s=5)
    assert "HTTP 401" in message
    for secret in ("s3cret-token", "hunter2", "k3y"):
        assert secret not in message and secret not in caplog.text
