"""OpenAI server-sent events framed by the service, so the gateway streams them verbatim."""

from __future__ import annotations

import json
import logging
from typing import AsyncIterator

from google.api import httpbody_pb2
from google.protobuf.message import Message

from stackmesh_common.errors import StackmeshError
from stackmesh_common.protojson import to_json

log = logging.getLogger("stackmesh.sse")

CONTENT_TYPE = "text/event-stream"
DONE = httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=b"data: [DONE]\n\n")


def _event(payload: dict) -> httpbody_pb2.HttpBody:
    return httpbody_pb2.HttpBody(
        content_type=CONTENT_TYPE, data=b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
    )


def error_event(exc: BaseException) -> httpbody_pb2.HttpBody:
    if isinstance(exc, StackmeshError):
        error = exc.openai_error()
    else:
        log.error("stream failed", exc_info=exc)
        error = {"message": "internal error", "type": "api_error", "param": None, "code": "internal_error"}
    return _event({"error": error})


async def sse_stream(chunks: AsyncIterator[Message]) -> AsyncIterator[httpbody_pb2.HttpBody]:
    """Frames typed chunks as `data: {json}` events ending with `data: [DONE]`.

    An error before the first chunk propagates, so the caller gets a real HTTP status; after
    it, the status line is already sent, so the error becomes an in-band `{"error": ...}`
    event (the openai SDK raises APIError on it) and the stream ends without [DONE].
    """
    sent = False
    try:
        async for chunk in chunks:
            yield _event(to_json(chunk))
            sent = True
    except Exception as exc:
        if not sent:
            raise
        yield error_event(exc)
        return
    yield DONE
