"""The safety service's inference client: an unreachable peer and a spent deadline are clear errors."""

from __future__ import annotations

import socket
import time

import pytest

from stackmesh_common.errors import DeadlineExceeded, Unavailable
from stackmesh_safety import inference_client
from stackmesh_safety.inference_client import InferenceClient


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_inference_is_unavailable():
    client = InferenceClient(f"127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(Unavailable, match="inference service is unavailable"):
            await client.embed("all-MiniLM-L6-v2", ["x"], timeout_s=5)
    finally:
        await client.close()


async def test_a_spent_caller_deadline_stops_the_call_before_it_is_made():
    client = InferenceClient(f"127.0.0.1:{closed_port()}")
    token = inference_client.deadline.set(time.monotonic() - 1)
    try:
        with pytest.raises(DeadlineExceeded):
            await client.chat("m", [{"role": "user", "content": "x"}], max_tokens=8, seed=1, timeout_s=5)
    finally:
        inference_client.deadline.reset(token)
        await client.close()
