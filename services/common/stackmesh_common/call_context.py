"""What a call carries across the mesh: request id, principal and deadline.

The server interceptor sets these from the incoming call; the peer-client interceptor and
the job queue copy them onto outgoing calls and job messages, so a request's id, its
caller and its deadline hold end to end.
"""

from __future__ import annotations

import contextvars
import time

REQUEST_ID_HEADER = "x-request-id"
# Set by the gateway once it has authenticated a caller; services only read it.
PRINCIPAL_HEADER = "x-stackmesh-principal"
# Who a call is made for when the stack runs without authentication.
ANONYMOUS = "anonymous"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# Who the call is made for: the owner of what it creates.
principal: contextvars.ContextVar[str] = contextvars.ContextVar("principal", default=ANONYMOUS)
# Absolute time.monotonic() by which the call being served must answer; None when unbounded.
deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def time_left() -> float | None:
    """Seconds until the served call's deadline, None when it has none."""
    limit = deadline.get()
    return None if limit is None else limit - time.monotonic()
