"""`python -m stackmesh_auth.keys_cli --address HOST:PORT create|list|revoke`: API keys, on
the auth service's own port (the operators' port: like Postgres, never exposed). `stackmesh
keys` runs the same commands, finding the address in a local stack's state dir; in compose:
`docker compose exec auth python -m stackmesh_auth.keys_cli create --principal NAME`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable

import grpc

from stackmesh.auth.v1 import auth_service_pb2 as pb
from stackmesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

DEFAULT_ADDRESS = "127.0.0.1:50057"


class KeysCommandError(Exception):
    """The auth service is unreachable or refused the request."""


def _attributes(pairs: list[str]) -> dict[str, pb.AttributeValues]:
    attributes: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise KeysCommandError(f"--attr takes KEY=VALUE, got {pair!r}")
        attributes.setdefault(name, []).append(value)
    return {name: pb.AttributeValues(values=values) for name, values in attributes.items()}


def _when(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if seconds else "-"


def _call(address: str, method: str, request: object) -> object:
    with grpc.insecure_channel(address) as channel:
        try:
            return getattr(pb_grpc.KeysServiceStub(channel), method)(request, timeout=10)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise KeysCommandError(f"cannot reach the auth service at {address}: {exc.details()}") from None
            raise KeysCommandError(exc.details() or str(exc.code())) from None


def create(address: str, args: argparse.Namespace) -> None:
    limits = pb.Limits()
    if args.requests_per_minute is not None:
        limits.requests_per_minute = args.requests_per_minute
    if args.tokens_per_day is not None:
        limits.tokens_per_day = args.tokens_per_day
    request = pb.CreateKeyRequest(
        principal=args.principal,
        attributes=_attributes(args.attr),
        description=args.description,
        limits=limits,
        expires_in_seconds=args.expires_in or 0,
    )
    created: pb.CreateKeyResponse = _call(address, "CreateKey", request)  # type: ignore[assignment]
    key = created.key
    expiry = f", expires {_when(key.expires_at)}" if key.expires_at else ""
    print(f"stackmesh: created {key.id} for {key.principal}{expiry}; it is shown only now:")
    # Last word of the output, alone on its line: `KEY=$(stackmesh keys create ... | tail -1)`.
    print(created.secret)


def list_keys(address: str, args: argparse.Namespace) -> None:
    listed: pb.ListKeysResponse = _call(address, "ListKeys", pb.ListKeysRequest(principal=args.principal or ""))  # type: ignore[assignment]
    print(f"{'ID':<30} {'PRINCIPAL':<20} {'PREFIX':<11} {'CREATED':<21} {'EXPIRES':<21} {'REVOKED':<21} ATTRIBUTES")
    for key in listed.data:
        attributes = json.dumps({k: list(v.values) for k, v in key.attributes.items()}, separators=(",", ":"))
        print(
            f"{key.id:<30} {key.principal:<20} {key.prefix:<11} {_when(key.created_at):<21} {_when(key.expires_at):<21}"
            f" {_when(key.revoked_at):<21} {attributes}"
        )


def revoke(address: str, args: argparse.Namespace) -> None:
    key: pb.ApiKey = _call(address, "RevokeKey", pb.RevokeKeyRequest(key=args.key))  # type: ignore[assignment]
    print(f"stackmesh: revoked {key.id} of {key.principal} at {_when(key.revoked_at)}")


def add_commands(keys: argparse.ArgumentParser, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """The create/list/revoke subcommands; `common(parser)` adds how to find the service."""
    actions = keys.add_subparsers(dest="keys_command", required=True)
    new = actions.add_parser("create", help="create a key; prints it last (the only time it is shown)")
    new.add_argument("--principal", required=True, help="who the key stands for (owner of what it creates)")
    new.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE", help="an attribute, e.g. team=research or roles=admin (repeatable)")
    new.add_argument("--description", default="")
    new.add_argument("--expires-in", type=int, metavar="SECONDS", help="the key stops working after this long (default: never)")
    new.add_argument("--requests-per-minute", type=int, help="this key's own limit (0: unlimited; default: the distribution's)")
    new.add_argument("--tokens-per-day", type=int, help="this key's own limit (0: unlimited; default: the distribution's)")
    new.set_defaults(keys_run=create)
    listed = actions.add_parser("list", help="list keys (never their secrets)")
    listed.add_argument("--principal", help="only this principal's keys")
    listed.set_defaults(keys_run=list_keys)
    gone = actions.add_parser("revoke", help="revoke a key by id (key_...) or secret")
    gone.add_argument("key")
    gone.set_defaults(keys_run=revoke)
    for command in (new, listed, gone):
        common(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackmesh_auth.keys_cli", description="API keys of a stackmesh auth service.")

    def address(command: argparse.ArgumentParser) -> None:
        command.add_argument("--address", default=os.environ.get("STACKMESH_AUTH_ADDRESS", DEFAULT_ADDRESS), help="host:port of the auth service")

    add_commands(parser, address)
    args = parser.parse_args(argv)
    try:
        args.keys_run(args.address, args)
    except KeysCommandError as exc:
        print(f"stackmesh: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
