"""`python -m stackmesh_gateway {render,run,openapi} --config FILE`: write the Envoy config, run
Envoy on it, or print the OpenAPI document the gateway serves at /v1/openapi.json."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import yaml

from stackmesh_common.config import ConfigError, load_config
from stackmesh_gateway.render import render, write_openapi

DEFAULT_DESCRIPTOR = Path("build/stackmesh.binpb")


def main() -> None:
    parser = argparse.ArgumentParser(prog="stackmesh-gateway", description=__doc__)
    parser.add_argument("command", choices=["render", "run", "openapi"])
    parser.add_argument("--config", required=True, help="distribution YAML file")
    parser.add_argument("--descriptor", type=Path, default=Path(os.environ.get("STACKMESH_DESCRIPTOR", DEFAULT_DESCRIPTOR)))
    parser.add_argument("--out", type=Path, help="where to write envoy.yaml (default: <state_dir>/gateway/envoy.yaml)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.exit(f"stackmesh-gateway: {exc}")
    if not args.descriptor.is_file():
        sys.exit(f"stackmesh-gateway: descriptor set {args.descriptor} not found; run `make codegen` (protos/codegen.py --descriptor-only)")
    out = args.out or config.state_dir / "gateway" / "envoy.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    openapi = write_openapi(config, args.descriptor, out.parent)
    if args.command == "openapi":
        print(openapi.read_text())
        return
    out.write_text(yaml.safe_dump(render(config, args.descriptor, openapi), sort_keys=False))
    if args.command == "render":
        print(out)
        return
    envoy = shutil.which("envoy") or str(Path(sys.executable).parent / "envoy")
    # exec: the launcher's signals (SIGTERM on shutdown) reach Envoy itself.
    os.execv(envoy, [envoy, "--config-path", str(out), "--log-level", args.log_level, "--disable-hot-restart", "--concurrency", str(config.gateway.concurrency)])


if __name__ == "__main__":
    main()
