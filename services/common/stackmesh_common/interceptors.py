"""Server interceptors: request id + access log, and the table-driven error mapping."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc
import psycopg
from google.rpc import error_details_pb2, status_pb2
from psycopg import OperationalError

from stackmesh_common.errors import InvalidArgument, StackmeshError, Unavailable
from stackmesh_common.request_values import bad_value, may_hold_bad_values
from stackmesh_common.telemetry import metrics, tracing
from stackmesh_common.call_context import (
    ANONYMOUS,
    ATTRIBUTES_HEADER,
    PRINCIPAL_HEADER,
    REQUEST_ID_HEADER,
    attributes,
    deadline,
    parse_attributes,
    principal,
    request_id,
)

log = logging.getLogger("stackmesh.rpc")

ERROR_DOMAIN = "stackmesh"
# Error messages quote what they refuse (an id, a value): a 40 KB id made trailers past the
# 60 KiB Envoy reads (the message goes out twice, percent-encoded and in the details), and the
# caller got a 502/503 for its own mistake. Longer messages are cut to this many characters.
MAX_ERROR_MESSAGE_CHARS = 1024


def _short(message: str) -> str:
    return message if len(message) <= MAX_ERROR_MESSAGE_CHARS else message[:MAX_ERROR_MESSAGE_CHARS] + "…"


def status_details(error: StackmeshError) -> bytes:
    """The `grpc-status-details-bin` of an error: a google.rpc.Status with its ErrorInfo."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    info.metadata["error_type"] = error.error_type
    if error.param:
        info.metadata["param"] = error.param
    status = status_pb2.Status(code=error.grpc_code.value[0], message=_short(error.message))
    status.details.add().Pack(info)
    return status.SerializeToString()


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException, method: str) -> None:
    """Answers the call with the status that `exc` stands for."""
    if isinstance(exc, OperationalError):
        # The database went away (a restart, a failover): the caller should retry, not give up.
        log.warning("database unavailable in %s: %s", method, exc)
        exc = Unavailable("the service's database is unavailable; retry in a few seconds")
    if isinstance(exc, StackmeshError):
        context.set_trailing_metadata((("grpc-status-details-bin", status_details(exc)),))
        await context.abort(exc.grpc_code, _short(exc.message))
    if isinstance(exc, psycopg.Error):
        # Its message and traceback may quote the request's values (a violated key, a bad literal).
        log.error("unhandled database error in %s: %s (SQLSTATE %s)", method, type(exc).__name__, exc.sqlstate)
    else:
        log.error("unhandled error in %s", method, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


def _is_abort(exc: BaseException) -> bool:
    # context.abort() raises this to unwind the handler; it is not an error to map.
    return isinstance(exc, grpc.aio.AbortError) or isinstance(exc, grpc.RpcError)


class _Refused:
    """A request message refused as it was read: one that did not parse (bad UTF-8 in a string,
    corrupt wire format, nesting past protobuf's recursion limit), or that holds a value no
    request may (request_values: a NUL, a NaN). grpc.aio answers a deserializer's exception
    with UNKNOWN and the exception's text; the handler raises the InvalidArgument instead."""

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(raw: bytes) -> Any:
        try:
            request = deserializer(raw)
        except Exception as exc:
            return _Refused(InvalidArgument(f"the request message is malformed: {exc}"))
        if may_hold_bad_values(raw) and (found := bad_value(request)) is not None:
            path, problem = found
            return _Refused(InvalidArgument(f"`{path}` {problem}", param=path or None))
        return request

    return deserialize


def _decoded(request: Any) -> Any:
    if isinstance(request, _Refused):
        raise request.error
    return request


async def _decoded_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        yield _decoded(request)


def _code_name(code: grpc.StatusCode | None, default: str) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else default


class _Call:
    """What begin() set up for one call: its start time and trace."""

    __slots__ = ("started", "trace")

    def __init__(self, started: float, trace: tracing.ServedCall | None) -> None:
        self.started, self.trace = started, trace


def _wrap_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    latency = metrics.RPC_SECONDS.labels(method)
    # The call counter's child per outcome, looked up once (labels() takes a lock each time).
    counted: dict[str, Any] = {}

    def begin(context: grpc.aio.ServicerContext) -> _Call:
        # grpc.aio runs each call in its own task, so what is set here stays with the call.
        metadata = dict(context.invocation_metadata() or ())
        request_id.set(metadata.get(REQUEST_ID_HEADER) or uuid.uuid4().hex)
        principal.set(metadata.get(PRINCIPAL_HEADER) or ANONYMOUS)
        attributes.set(parse_attributes(metadata.get(ATTRIBUTES_HEADER)))
        remaining = context.time_remaining()
        deadline.set(None if remaining is None else time.monotonic() + remaining)
        return _Call(time.perf_counter(), tracing.begin_call(method, metadata))

    def end(call: _Call, outcome: str) -> None:
        seconds = time.perf_counter() - call.started
        if metrics.enabled:
            latency.observe(seconds)
            counter = counted.get(outcome)
            if counter is None:
                counter = counted[outcome] = metrics.RPC_CALLS.labels(method, outcome)
            counter.inc()
        log.info("rpc", extra={"fields": {"method": method, "outcome": outcome, "ms": round(seconds * 1000, 2)}})
        if call.trace is not None:
            call.trace.end(outcome)

    if handler.unary_unary or handler.stream_unary:
        inner = handler.unary_unary or handler.stream_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = begin(context)
            outcome = "OK"
            try:
                return await inner(_decoded(request) if handler.unary_unary else _decoded_stream(request), context)
            except asyncio.CancelledError:
                # The caller went away or its deadline passed: not an error of ours.
                outcome = "CANCELLED"
                raise
            except BaseException as exc:
                if _is_abort(exc):
                    outcome = _code_name(context.code(), "ABORTED")
                    raise
                outcome = getattr(exc, "grpc_code", grpc.StatusCode.INTERNAL).name
                await _abort(context, exc, method)
            finally:
                end(call, outcome)

        factory = grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
        return factory(unary, _lenient(handler.request_deserializer), handler.response_serializer)

    inner_stream = handler.unary_stream or handler.stream_stream

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        call = begin(context)
        outcome = "OK"
        try:
            async for item in inner_stream(_decoded(request) if handler.unary_stream else _decoded_stream(request), context):
                yield item
        except asyncio.CancelledError:
            outcome = "CANCELLED"
            raise
        except BaseException as exc:
            if _is_abort(exc) or isinstance(exc, GeneratorExit):
                outcome = _code_name(context.code(), "CANCELLED")
                raise
            outcome = getattr(exc, "grpc_code", grpc.StatusCode.INTERNAL).name
            await _abort(context, exc, method)
        finally:
            end(call, outcome)

    factory = grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
    return factory(streaming, _lenient(handler.request_deserializer), handler.response_serializer)



class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Sets the request id, logs each call, and maps exceptions to gRPC statuses."""

    def __init__(self) -> None:
        # method -> (its handler, the handler wrapped): wrapped once, not on every call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        # Health checks, reflection and Envoy's ext_authz checks (one per gateway request) are
        # neither logged nor mapped: they are the mesh's plumbing, not API calls.
        if handler is None or handler_call_details.method.startswith(("/grpc.", "/envoy.")):
            return handler
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None or wrapped[0] is not handler:
            wrapped = self._wrapped[method] = (handler, _wrap_handler(handler, method))
        return wrapped[1]
