"""Errors a client can act on, each bound to one gRPC status code.

Raise these from servicers and providers. The error interceptor turns them into a gRPC
status whose `grpc-status-details-bin` carries a google.rpc.ErrorInfo (reason, param,
OpenAI error type), which the gateway renders as OpenAI's `{"error": {...}}` envelope.
Anything else is logged with its stack and answered INTERNAL "internal error".
"""

from __future__ import annotations

import grpc


class StackmeshError(Exception):
    """Base of every client-facing error."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    # OpenAI's error `type`.
    error_type: str = "api_error"
    # The HTTP status the gateway answers with (what a batch's error line records).
    http_status: int = 500
    # Default machine-readable `code` (google.rpc.ErrorInfo.reason).
    reason: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if reason:
            self.reason = reason

    def openai_error(self) -> dict[str, str | None]:
        """The error as the body of OpenAI's `{"error": ...}` envelope."""
        return {"message": self.message, "type": self.error_type, "param": self.param, "code": self.reason}


class InvalidArgument(StackmeshError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    error_type = "invalid_request_error"
    http_status = 400
    reason = "invalid_argument"


class NotFound(StackmeshError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    error_type = "invalid_request_error"
    http_status = 404
    reason = "not_found"


class AlreadyExists(StackmeshError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    error_type = "invalid_request_error"
    http_status = 409
    reason = "already_exists"


class FailedPrecondition(StackmeshError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    error_type = "invalid_request_error"
    http_status = 400
    reason = "failed_precondition"


class ResourceExhausted(StackmeshError):
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    error_type = "rate_limit_error"
    http_status = 429
    reason = "resource_exhausted"


class PayloadTooLarge(StackmeshError):
    # gRPC has no code of its own for this; the gateway answers 413 for the reason.
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    error_type = "invalid_request_error"
    http_status = 413
    reason = "request_too_large"


class Unavailable(StackmeshError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    error_type = "api_error"
    http_status = 503
    reason = "unavailable"


class PermissionDenied(StackmeshError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    error_type = "permission_error"
    http_status = 403
    reason = "permission_denied"


class Unauthenticated(StackmeshError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    error_type = "authentication_error"
    http_status = 401
    reason = "unauthenticated"


class DeadlineExceeded(StackmeshError):
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    error_type = "timeout_error"
    http_status = 504
    reason = "deadline_exceeded"
