"""The error interceptor on a real grpc.aio server: statuses, details, no leaks, cancellations."""

from __future__ import annotations

import asyncio
import logging

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2, status_pb2

from stackmesh.inspect.v1 import inspect_service_pb2 as pb
from stackmesh.inspect.v1 import inspect_service_pb2_grpc as pb_grpc
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.server import Servicer, start_server


class Behaviours(pb_grpc.InspectServiceServicer):
    """Each RPC exercises one path of the interceptor."""

    async def GetHealth(self, request, context):
        raise InvalidArgument("`limit` must be positive", param="limit")

    async def GetVersion(self, request, context):
        raise RuntimeError("database password is hunter2")

    async def ListProviders(self, request, context):
        raise psycopg.errors.UniqueViolation('duplicate key value violates unique constraint "files_pkey" DETAIL: Key (id)=(secret-value)')

    async def ListRoutes(self, request, context):
        await asyncio.sleep(5)
        return pb.ListRoutesResponse()


@pytest.fixture
async def stub():
    server = await start_server(
        "127.0.0.1:0", [Servicer(Behaviours(), pb_grpc.add_InspectServiceServicer_to_server, "stackmesh.inspect.v1.InspectService")]
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield pb_grpc.InspectServiceStub(channel)
    await server.stop(0)


async def test_client_error_maps_to_its_status_with_error_info(stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetHealth(pb.GetHealthRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "`limit` must be positive"
    details = dict(caught.value.trailing_metadata())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(details).details[0].Unpack(info)
    assert (info.reason, info.metadata["param"], info.metadata["error_type"]) == ("invalid_argument", "limit", "invalid_request_error")


async def test_unexpected_error_is_internal_without_its_message(stub, caplog):
    with caplog.at_level(logging.ERROR, logger="stackmesh.rpc"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetVersion(pb.GetVersionRequest())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    assert "hunter2" in caplog.text  # logged with its stack for operators, never sent


async def test_a_database_error_is_logged_by_class_never_with_request_values(stub, caplog):
    with caplog.at_level(logging.ERROR, logger="stackmesh.rpc"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListProviders(pb.ListProvidersRequest())
    assert caught.value.code() == grpc.StatusCode.INTERNAL and caught.value.details() == "internal error"
    assert "UniqueViolation (SQLSTATE 23505)" in caplog.text and "secret-value" not in caplog.text


async def test_deadline_is_a_cancellation_not_an_internal_error(stub, caplog):
    with caplog.at_level(logging.INFO, logger="stackmesh.rpc"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListRoutes(pb.ListRoutesRequest(), timeout=0.2)
        await asyncio.sleep(0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "unhandled error" not in caplog.text
    assert '"CANCELLED"' in caplog.text or "CANCELLED" in [getattr(r, "fields", {}).get("outcome") for r in caplog.records]


async def test_a_method_no_servicer_handles_is_unimplemented_naming_it():
    """An API of the contract the service does not implement: a status a caller can act on."""
    method = "/stackmesh.agents.v1.ToolGroupsService/ListToolGroups"
    server = await start_server("127.0.0.1:0", [], "agents")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as unary:
                await channel.unary_unary(method)(b"")
            with pytest.raises(grpc.aio.AioRpcError) as streamed:
                async for _ in channel.unary_stream(method)(b""):
                    pass
        for caught in (unary, streamed):
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert caught.value.details() == "stackmesh.agents.v1.ToolGroupsService/ListToolGroups is not served by the agents service yet"
    finally:
        await server.stop(0)
