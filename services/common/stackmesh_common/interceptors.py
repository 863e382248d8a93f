"""Server interceptors: request id + access log, and the table-driven error mapping."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc
from google.rpc import error_details_pb2, status_pb2
import psycopg
from psycopg import OperationalError

from stackmesh_common.errors import StackmeshError, Unavailable
from stackmesh_common.call_context import ANONYMOUS, PRINCIPAL_HEADER, REQUEST_ID_HEADER, deadline, principal, request_id

log = logging.getLogger("stackmesh.rpc")

ERROR_DOMAIN = "stackmesh"


def _status_details(error: StackmeshError) -> bytes:
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    info.metadata["error_type"] = error.error_type
    if error.param:
        info.metadata["param"] = error.param
    status = status_pb2.Status(code=error.grpc_code.value[0], message=error.message)
    status.details.add().Pack(info)
    return status.SerializeToString()


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException, method: str) -> None:
    """Answers the call with the status that `exc` stands for."""
    if isinstance(exc, OperationalError):
        # The database went away (a restart, a failover): the caller should retry, not give up.
        log.warning("database unavailable in %s: %s", method, exc)
        exc = Unavailable("the service's database is unavailable; retry in a few seconds")
    if isinstance(exc, StackmeshError):
        context.set_trailing_metadata((("grpc-status-details-bin", _status_details(exc)),))
        await context.abort(exc.grpc_code, exc.message)
    if isinstance(exc, psycopg.Error):
        # Its message and traceback may quote the request's values (a violated key, a bad literal).
        log.error("unhandled database error in %s: %s (SQLSTATE %s)", method, type(exc).__name__, exc.sqlstate)
    else:
        log.error("unhandled error in %s", method, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


def _is_abort(exc: BaseException) -> bool:
    # context.abort() raises this to unwind the handler; it is not an error to map.
    return isinstance(exc, grpc.aio.AbortError) or isinstance(exc, grpc.RpcError)


def _wrap_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    def begin(context: grpc.aio.ServicerContext) -> float:
        # grpc.aio runs each call in its own task, so what is set here stays with the call.
        metadata = dict(context.invocation_metadata() or ())
        request_id.set(metadata.get(REQUEST_ID_HEADER) or uuid.uuid4().hex)
        principal.set(metadata.get(PRINCIPAL_HEADER) or ANONYMOUS)
        remaining = context.time_remaining()
        deadline.set(None if remaining is None else time.monotonic() + remaining)
        return time.perf_counter()

    def end(started: float, outcome: str) -> None:
        log.info(
            "rpc",
            extra={"fields": {"method": method, "outcome": outcome, "ms": round((time.perf_counter() - started) * 1000, 2)}},
        )

    if handler.unary_unary or handler.stream_unary:
        inner = handler.unary_unary or handler.stream_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = begin(context)
            outcome = "OK"
            try:
                return await inner(request, context)
            except asyncio.CancelledError:
                # The caller went away or its deadline passed: not an error of ours.
                outcome = "CANCELLED"
                raise
            except BaseException as exc:
                if _is_abort(exc):
                    outcome = str(context.code() or "ABORTED")
                    raise
                outcome = getattr(exc, "grpc_code", grpc.StatusCode.INTERNAL).name
                await _abort(context, exc, method)
            finally:
                end(started, outcome)

        factory = grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
        return factory(unary, handler.request_deserializer, handler.response_serializer)

    inner_stream = handler.unary_stream or handler.stream_stream

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = begin(context)
        outcome = "OK"
        try:
            async for item in inner_stream(request, context):
                yield item
        except asyncio.CancelledError:
            outcome = "CANCELLED"
            raise
        except BaseException as exc:
            if _is_abort(exc) or isinstance(exc, GeneratorExit):
                outcome = str(context.code() or "CANCELLED")
                raise
            outcome = getattr(exc, "grpc_code", grpc.StatusCode.INTERNAL).name
            await _abort(context, exc, method)
        finally:
            end(started, outcome)

    factory = grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
    return factory(streaming, handler.request_deserializer, handler.response_serializer)



class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Sets the request id, logs each call, and maps exceptions to gRPC statuses."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith("/grpc."):
            return handler
        return _wrap_handler(handler, handler_call_details.method)
