"""TCP ports of a local stack: picking free ones and finding taken ones before anything starts."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

# Addresses that mean "every interface": a client reaches them through loopback.
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class PortClaim:
    """A port a component will bind, and the environment variable that moves it."""

    component: str
    host: str
    port: int
    # None for ports the launcher always picks itself.
    env_var: str | None


def connect_host(host: str) -> str:
    """The address a local client dials to reach a server bound to `host`."""
    return "127.0.0.1" if host in _WILDCARD_HOSTS else host


def pick_free_port(host: str, avoid: set[int]) -> int:
    """A port the OS says is free on `host`, not one already handed out to this stack."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def _bind_error(host: str, port: int) -> OSError | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port left in TIME_WAIT by the last run is not "taken".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def find_conflicts(claims: list[PortClaim]) -> list[str]:
    """One actionable message per claim that cannot be bound (taken, duplicated or not local)."""
    problems: list[str] = []
    owners: dict[int, str] = {}
    for claim in claims:
        move = f"set {claim.env_var} to another port" if claim.env_var else "start again to pick another port"
        if claim.port in owners:
            problems.append(f"{claim.component}: port {claim.port} is also configured for {owners[claim.port]}; {move}")
            continue
        owners[claim.port] = claim.component
        error = _bind_error(claim.host, claim.port)
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            problems.append(
                f"{claim.component}: port {claim.port} on {claim.host} is already in use; stop what uses it or {move}"
            )
        else:
            problems.append(f"{claim.component}: cannot bind {claim.host}:{claim.port} ({error.strerror})")
    return problems
