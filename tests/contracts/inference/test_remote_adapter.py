"""The remote adapter against a real server that dies or is not there: errors, never hangs."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from stackmesh_common.errors import InvalidArgument, Unavailable
from stackmesh_inference.providers.vllm import Config, VllmProvider
from tests.conftest import start_openai_server

MODEL = "smollm2-135m-instruct"
LONG = {"messages": [{"role": "user", "content": "Write a very long story about a dragon."}], "max_tokens": 2000}


async def test_a_server_dying_mid_stream_ends_it_with_an_error():
    server = start_openai_server("--parallel", "1")
    provider = VllmProvider(Config(url=server.url, timeout_s=30))
    try:
        received = 0
        with pytest.raises(Unavailable, match="broke off the stream"):
            async with asyncio.timeout(30):
                async for _ in provider.stream_chat_completion(MODEL, LONG):
                    received += 1
                    if received == 3:
                        server.process.kill()
        assert received >= 3
    finally:
        server.stop()
        await provider.close()


async def test_an_unreachable_server_fails_fast_after_retries():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = VllmProvider(Config(url=f"http://127.0.0.1:{port}/v1", max_retries=2))
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="unreachable"):
            await provider.chat_completion(MODEL, {"messages": [{"role": "user", "content": "hi"}]})
        assert time.monotonic() - started < 2  # two short backoffs, no long wait
        with pytest.raises(InvalidArgument, match="cannot check"):
            await provider.load_model(MODEL, "llm")
    finally:
        await provider.close()
