"""Peer calls on a real grpc.aio server: the served call's request id, principal and deadline
travel with every peer call, and a peer's status maps to one error a user can act on."""

from __future__ import annotations

import time

import grpc
import pytest

from stackmesh.inspect.v1 import inspect_service_pb2 as pb
from stackmesh.inspect.v1 import inspect_service_pb2_grpc as pb_grpc
from stackmesh_common import call_context
from stackmesh_common.errors import FailedPrecondition, InvalidArgument, NotFound
from stackmesh_common.peers import peer_channel, peer_error
from stackmesh_common.server import Servicer, start_server


class Peer(pb_grpc.InspectServiceServicer):
    """Records what each call carried; GetProvider refuses like a real service does."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict, float | None]] = []

    async def GetHealth(self, request, context):
        self.seen.append((dict(context.invocation_metadata()), context.time_remaining()))
        return pb.HealthInfo(status="OK")

    async def GetProvider(self, request, context):
        raise InvalidArgument("`provider_id` names nothing", param="provider_id")


@pytest.fixture
async def peer():
    servicer = Peer()
    server = await start_server("127.0.0.1:0", [Servicer(servicer, pb_grpc.add_InspectServiceServicer_to_server, "stackmesh.inspect.v1.InspectService")])
    channel = peer_channel(f"127.0.0.1:{server.port}")
    yield servicer, pb_grpc.InspectServiceStub(channel)
    await channel.close()
    await server.stop(0)


async def test_request_id_principal_and_deadline_travel_with_the_call(peer):
    servicer, stub = peer
    tokens = [
        call_context.request_id.set("req-42"),
        call_context.principal.set("team-a"),
        call_context.deadline.set(time.monotonic() + 2.0),
    ]
    try:
        await stub.GetHealth(pb.GetHealthRequest(), timeout=30)
    finally:
        for var, token in zip((call_context.request_id, call_context.principal, call_context.deadline), tokens):
            var.reset(token)
    metadata, remaining = servicer.seen[-1]
    assert metadata["x-request-id"] == "req-42" and metadata["x-stackmesh-principal"] == "team-a"
    # The peer call's own 30 s timeout is cut to what the served call has left.
    assert remaining is not None and remaining <= 2.0


async def test_without_a_served_call_nothing_is_added(peer):
    servicer, stub = peer
    await stub.GetHealth(pb.GetHealthRequest())
    metadata, remaining = servicer.seen[-1]
    assert "x-stackmesh-principal" not in metadata and remaining is None


async def test_a_refusal_keeps_its_code_and_param_or_becomes_what_it_means_here(peer):
    _, stub = peer
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetProvider(pb.GetProviderRequest(provider_id="x"))
    kept = peer_error(caught.value, "inspect", "looking up provider `x`")
    assert isinstance(kept, InvalidArgument) and kept.param == "provider_id" and kept.message == "`provider_id` names nothing"
    recast = peer_error(caught.value, "inspect", "looking up provider `x`", refused_as=FailedPrecondition)
    assert isinstance(recast, FailedPrecondition) and "looking up provider `x`" in recast.message


async def test_an_unreachable_peer_is_unavailable_and_named():
    channel = peer_channel("127.0.0.1:1")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.InspectServiceStub(channel).GetHealth(pb.GetHealthRequest(), timeout=5)
    finally:
        await channel.close()
    error = peer_error(caught.value, "eval", "listing datasets")
    assert error.grpc_code == grpc.StatusCode.UNAVAILABLE and "the eval service is unavailable (listing datasets)" in error.message
    assert not isinstance(error, NotFound)
