"""Who is calling: the identity that owns what a call creates."""

from __future__ import annotations

from typing import Any

# Set by the gateway once authentication exists; until then a client may send it itself.
USER_HEADER = "x-stackmesh-user"
ANONYMOUS = "anonymous"


def caller(context: Any) -> str:
    metadata = dict(context.invocation_metadata() or ())
    return metadata.get(USER_HEADER) or ANONYMOUS
