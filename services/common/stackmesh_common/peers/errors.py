"""One mapping from a peer's gRPC status to the error this service answers with."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from stackmesh_common import errors
from stackmesh_common.errors import StackmeshError

# The peer refused the request: the caller's input (or this service's config) is at fault.
REFUSALS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)

_BY_CODE: dict[grpc.StatusCode, type[StackmeshError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.CANCELLED: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
}


def _error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


def peer_error(
    exc: grpc.aio.AioRpcError,
    peer: str,
    what: str,
    *,
    refused_as: type[StackmeshError] | None = None,
    param: str | None = None,
) -> StackmeshError:
    """The error to answer with when `peer` failed doing `what` (e.g. "embeddings of `m`").

    A refusal keeps the peer's code, reason and param unless `refused_as` says what it means
    here (a missing guard model is this service's failed precondition, not a 404 of the
    caller's). Outages and timeouts name the peer, so an operator knows where to look.
    """
    code = exc.code()
    details = exc.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.Unavailable(f"the {peer} service is unavailable ({what}), retry: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(f"the {peer} service did not answer in time ({what})")
    if code in REFUSALS and refused_as is not None:
        return refused_as(f"{what}: {details}", param=param)
    cls = _BY_CODE.get(code)
    if cls is None:
        return StackmeshError(f"{what}: the {peer} service failed: {details}", reason=f"{peer}_failed")
    info = _error_info(exc)
    return cls(
        details if code in REFUSALS else f"{what}: {details}",
        param=param or (info.metadata.get("param") if info else None),
        reason=info.reason if info and info.reason else None,
    )
