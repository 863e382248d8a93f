"""What a call carries across the mesh: request id, principal, its attributes and deadline.

The server interceptor sets these from the incoming call; the peer-client interceptor and
the job queue copy them onto outgoing calls and job messages, so a request's id, its
caller and its deadline hold end to end.
"""

from __future__ import annotations

import contextvars
import json
import time

REQUEST_ID_HEADER = "x-request-id"
# Set by the gateway once it has authenticated a caller; services only read it.
PRINCIPAL_HEADER = "x-stackmesh-principal"
# The principal's attributes (team, roles, ...) as JSON {"name": ["value", ...]}; set with it.
ATTRIBUTES_HEADER = "x-stackmesh-attributes"
# On the gateway's own refusals (the auth check's): OpenAI's error type and code.
ERROR_TYPE_HEADER = "x-stackmesh-error-type"
ERROR_CODE_HEADER = "x-stackmesh-error-code"
# Who a call is made for when the stack runs without authentication.
ANONYMOUS = "anonymous"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# Who the call is made for: the owner of what it creates.
principal: contextvars.ContextVar[str] = contextvars.ContextVar("principal", default=ANONYMOUS)
# What the gateway verified about the caller besides its name; resources record it with the owner.
attributes: contextvars.ContextVar[dict[str, list[str]]] = contextvars.ContextVar("attributes", default={})
# Absolute time.monotonic() by which the call being served must answer; None when unbounded.
deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def time_left() -> float | None:
    """Seconds until the served call's deadline, None when it has none."""
    limit = deadline.get()
    return None if limit is None else limit - time.monotonic()


def parse_attributes(header: str | None) -> dict[str, list[str]]:
    """The attributes header as a mapping; anything malformed counts as none (only the
    gateway sets it, so a bad value is a bug, not a caller's mistake)."""
    if not header:
        return {}
    try:
        value = json.loads(header)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(name): [str(v) for v in values if isinstance(v, str)]
        for name, values in value.items()
        if isinstance(values, list)
    }


def encode_attributes(value: dict[str, list[str]]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
