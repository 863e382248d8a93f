"""Requests refused as they are read, on a real grpc.aio server: messages that do not parse,
NULs and non-finite numbers anywhere in them, and error messages cut to a size Envoy reads."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2

from stackmesh.inference.v1 import inference_service_pb2
from stackmesh.inspect.v1 import inspect_service_pb2 as pb
from stackmesh.inspect.v1 import inspect_service_pb2_grpc as pb_grpc
from stackmesh_common.errors import NotFound
from stackmesh_common.interceptors import MAX_ERROR_MESSAGE_CHARS
from stackmesh_common.request_values import bad_value, may_hold_bad_values
from stackmesh_common.server import Servicer, start_server

GET_PROVIDER = "/stackmesh.inspect.v1.InspectService/GetProvider"


class Echo(pb_grpc.InspectServiceServicer):
    async def GetProvider(self, request, context):
        raise NotFound(f"provider `{request.provider_id}` not found", param="provider_id")


@pytest.fixture
async def channel():
    server = await start_server("127.0.0.1:0", [Servicer(Echo(), pb_grpc.add_InspectServiceServicer_to_server, "stackmesh.inspect.v1.InspectService")])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel
    await server.stop(0)


async def call(channel: grpc.aio.Channel, payload: bytes) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary(GET_PROVIDER)(payload)
    return caught.value


@pytest.mark.parametrize(
    "payload, detail",
    [
        (b"\x0a\x02\xc3\x28", "String field had bad UTF-8"),
        (b"\xff\xff\xff", "the request message is malformed"),
        (pb.GetProviderRequest(provider_id="a\x00b").SerializeToString(), "`provider_id` holds a NUL character"),
    ],
    ids=["bad-utf8", "corrupt", "nul"],
)
async def test_unreadable_requests_are_invalid_argument_not_unknown(channel, payload, detail):
    error = await call(channel, payload)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert detail in error.details()


async def test_error_messages_quoting_a_long_input_are_cut(channel):
    error = await call(channel, pb.GetProviderRequest(provider_id="x" * 50_000).SerializeToString())
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert len(error.details()) == MAX_ERROR_MESSAGE_CHARS + 1 and error.details().endswith("…")


def test_bad_values_are_found_with_the_path_of_their_field():
    request = inference_service_pb2.CreateChatCompletionRequest(model="m", metadata={"k": "v\x00"})
    assert bad_value(request) == ("metadata.k", "holds a NUL character (\\u0000), which cannot be stored")
    request = inference_service_pb2.CreateChatCompletionRequest(model="m", metadata={"k\x00": "v"})
    assert bad_value(request)[0] == "metadata"
    request = inference_service_pb2.CreateChatCompletionRequest(model="m", temperature=float("nan"))
    assert bad_value(request) == ("temperature", "must be a finite number, got nan")
    request = inference_service_pb2.CreateChatCompletionRequest(model="m")
    request.messages.add(role="user").content.list_value.values.add().struct_value.update({"text": ["ok", {"x": float("-inf")}]})
    assert bad_value(request)[0] == "messages[0].content[0].text[1].x"
    assert bad_value(inference_service_pb2.CreateChatCompletionRequest(model="m", temperature=1.0)) is None


def test_the_walk_is_skipped_only_for_encodings_that_cannot_hold_a_bad_value():
    clean = inference_service_pb2.CreateChatCompletionRequest(model="m", user="u").SerializeToString()
    assert not may_hold_bad_values(clean)
    for value in (float("nan"), float("inf"), float("-inf")):
        assert may_hold_bad_values(struct_pb2.Value(number_value=value).SerializeToString())
    assert may_hold_bad_values(struct_pb2.Value(string_value="\x00").SerializeToString())
