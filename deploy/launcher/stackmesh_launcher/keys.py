"""`stackmesh keys create|list|revoke`: the API keys of a running local stack, managed on its
auth service (stackmesh_auth.keys_cli), whose address the stack's state dir records."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from stackmesh_auth.keys_cli import KeysCommandError, add_commands
from stackmesh_launcher import state

AUTH_SERVICE = "auth"


def _address(args: argparse.Namespace) -> str:
    if args.address:
        return args.address
    record = state.read(args.state_dir)
    if record is None:
        raise KeysCommandError(f"no stack is running with state dir {args.state_dir} (start one with `stackmesh up`, or pass --address)")
    for component in record.components:
        if component.name == AUTH_SERVICE:
            return component.address
    raise KeysCommandError(f"the running stack ({record.name}) has no {AUTH_SERVICE} service")


def run(args: argparse.Namespace) -> int:
    args.keys_run(_address(args), args)
    return 0


def add_parser(commands: argparse._SubParsersAction, default_state_dir: Path) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys of a running stack")

    def where(command: argparse.ArgumentParser) -> None:
        command.add_argument("--state-dir", type=Path, default=default_state_dir, help="default: $STACKMESH_STATE_DIR or .stackmesh")
        command.add_argument("--address", default=os.environ.get("STACKMESH_AUTH_ADDRESS"), help="host:port of the auth service (default: from the state dir)")
        command.set_defaults(run=run)

    add_commands(keys, where)
