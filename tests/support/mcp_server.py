"""A real MCP server for tests (the mcp SDK's MCPServer), a helper to run it, and stand-ins for broken servers.

Run from the repository root: python -m tests.support.mcp_server [--port N] [--transport streamable-http|sse]
It prints its MCP endpoint URL once it listens. `GET /stats` answers how many `tools/list`
requests it served, so tests can see what a client's cache saved.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import select
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal

import uvicorn
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool
from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.support.processes import stop_process

Transport = Literal["streamable-http", "sse"]
REPO = Path(__file__).resolve().parents[2]
ENDPOINT_PATHS: dict[Transport, str] = {"streamable-http": "/mcp", "sse": "/sse"}
# A 1x1 transparent PNG: a non-text content part for clients to summarise.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


class CountingServer(MCPServer):
    """Counts the tool listings it serves."""

    def __init__(self) -> None:
        super().__init__("stackmesh-test-tools", log_level="WARNING")
        self.listings = 0

    async def list_tools(self) -> list[Tool]:
        self.listings += 1
        return await super().list_tools()


def build_server() -> CountingServer:
    server = CountingServer()

    @server.tool()
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        return f"The weather in {city} is sunny, 21 degrees Celsius."

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def whoami(ctx: Context) -> str:
        """The Authorization header this request carried, or "anonymous"."""
        headers = ctx.headers or {}
        return headers.get("authorization", "anonymous")

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with the given message."""
        # A ToolError's text reaches the client; any other exception's text stays on the server.
        raise ToolError(message)

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then answer "slept"."""
        await asyncio.sleep(seconds)
        return "slept"

    @server.tool()
    def pixel() -> Image:
        """A 1x1 PNG image."""
        return Image(data=PIXEL_PNG, format="png")

    @server.custom_route("/stats", methods=["GET"])
    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"tools_list": server.listings})

    return server


async def serve(port: int, transport: Transport) -> None:
    server = build_server()
    app = server.sse_app() if transport == "sse" else server.streamable_http_app()
    listener = socket.create_server(("127.0.0.1", port))
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(uvicorn_server.serve(sockets=[listener]))
    while not uvicorn_server.started and not serving.done():
        await asyncio.sleep(0.05)
    if uvicorn_server.started:
        bound = listener.getsockname()[1]
        print(f"http://127.0.0.1:{bound}{ENDPOINT_PATHS[transport]}", flush=True)
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--transport", choices=list(ENDPOINT_PATHS), default="streamable-http")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.transport))


class McpServerProcess:
    """The test MCP server in a child process on a free port; `url` is its MCP endpoint."""

    def __init__(self, transport: Transport = "streamable-http", start_timeout_s: float = 30.0) -> None:
        self.transport = transport
        self.start_timeout_s = start_timeout_s
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return self.url.removesuffix(ENDPOINT_PATHS[self.transport])

    def __enter__(self) -> McpServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.mcp_server", "--transport", self.transport],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.url = self._read_url(self._process)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop()

    def _read_url(self, process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], self.start_timeout_s)
        line = process.stdout.readline().strip() if ready else ""
        if not line:
            code = process.poll()
            why = f"exited with code {code}" if code is not None else f"did not listen within {self.start_timeout_s:g} s"
            raise RuntimeError(f"the test MCP server ({self.transport}) {why}")
        return line

    def _stop(self) -> None:
        process = self._process
        if process is None:
            return
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()
        self._process = None


@contextmanager
def hanging_server() -> Iterator[str]:
    """The URL of a socket that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, name="hanging-mcp-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def _status_handler(status: int) -> type[http.server.BaseHTTPRequestHandler]:
    class StatusHandler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = f"<html><body><h1>{status}</h1></body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read the answers, not the access log."""

    return StatusHandler


@contextmanager
def plain_http_server(status: int) -> Iterator[str]:
    """The base URL of a plain HTTP server (no MCP) that answers every request with `status` and HTML."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _status_handler(status))
    # A short poll interval: shutdown() waits for it, and tests call it from their event loop.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"http-{status}-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


if __name__ == "__main__":
    main()
