"""SSE framing: chunks as `data:` events, `[DONE]` at the end, errors in band after the first chunk."""

import json

import pytest

from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh_common.errors import NotFound, Unavailable
from stackmesh_common.sse import sse_stream


async def chunks(n: int, fail_with: Exception | None = None):
    for i in range(n):
        yield pb.ChatCompletionChunk(id="c", object="chat.completion.chunk", created=i)
    if fail_with:
        raise fail_with


async def collect(stream) -> list[bytes]:
    return [frame.data async for frame in stream]


async def test_chunks_become_events_ending_with_done():
    frames = await collect(sse_stream(chunks(2)))
    assert frames[-1] == b"data: [DONE]\n\n"
    events = [json.loads(f.removeprefix(b"data: ")) for f in frames[:-1]]
    assert [e["created"] for e in events] == [0, 1]
    assert events[0]["choices"] == []  # defaults printed, as the gateway prints unary responses


async def test_error_before_first_chunk_propagates():
    """The caller still gets a real HTTP status for errors before anything was sent."""
    with pytest.raises(NotFound):
        await collect(sse_stream(chunks(0, NotFound("no such model", param="model"))))


async def test_error_after_first_chunk_is_an_in_band_event_without_done():
    frames = await collect(sse_stream(chunks(1, Unavailable("shutting down"))))
    assert len(frames) == 2
    error = json.loads(frames[1].removeprefix(b"data: "))["error"]
    assert error == {"message": "shutting down", "type": "api_error", "param": None, "code": "unavailable"}


async def test_unexpected_error_mid_stream_hides_internals():
    frames = await collect(sse_stream(chunks(1, RuntimeError("secret stack detail"))))
    error = json.loads(frames[1].removeprefix(b"data: "))["error"]
    assert error["message"] == "internal error" and "secret" not in frames[1].decode()
