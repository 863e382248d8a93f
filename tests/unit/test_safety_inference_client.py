"""Peer calls to the inference service: an unreachable peer and a spent deadline are clear errors."""

from __future__ import annotations

import socket
import time

import pytest

from stackmesh_common import call_context
from stackmesh_common.errors import DeadlineExceeded, Unavailable
from stackmesh_common.peers import InferenceClient, peer_channel
from stackmesh_safety.inference_client import GuardInference


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_inference_is_unavailable_and_names_the_peer():
    channel = peer_channel(f"127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(Unavailable, match="the inference service is unavailable"):
            await GuardInference(InferenceClient(channel)).embed("all-MiniLM-L6-v2", ["x"], timeout_s=5)
    finally:
        await channel.close()


async def test_a_spent_caller_deadline_stops_the_call_before_it_is_made():
    channel = peer_channel(f"127.0.0.1:{closed_port()}")
    token = call_context.deadline.set(time.monotonic() - 1)
    try:
        with pytest.raises(DeadlineExceeded, match="deadline passed"):
            await GuardInference(InferenceClient(channel)).chat(
                "m", [{"role": "user", "content": "x"}], max_tokens=8, seed=1, timeout_s=5
            )
    finally:
        call_context.deadline.reset(token)
        await channel.close()
