"""Generate the Python stubs (with .pyi) and the gateway's descriptor set from protos/.

Usage: python protos/codegen.py [--check | --lint | --descriptor-only] [--descriptor-out PATH]

--check regenerates into a temporary directory and exits 1, listing the files that
differ, when the committed stubs under protos/gen/python are stale.
--lint runs `buf lint` (rules in protos/buf.yaml) over an image of the contracts; buf
reads the image rather than the directory because the google/api imports come from
site-packages, not from the Buf Schema Registry.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools
from google.api import annotations_pb2

PROTOS = Path(__file__).resolve().parent
STUBS = PROTOS / "gen" / "python"
DEFAULT_DESCRIPTOR = PROTOS.parent / "build" / "stackmesh.binpb"
# googleapis-common-protos ships google/api/*.proto and google/rpc/*.proto next to its
# generated modules; grpc_tools ships the well-known types.
GOOGLEAPIS = Path(annotations_pb2.__file__).resolve().parents[2]
WELL_KNOWN = Path(grpc_tools.__file__).resolve().parent / "_proto"


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "stackmesh").rglob("*.proto"))


def protoc(*args: str) -> None:
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"-I{GOOGLEAPIS}", f"-I{WELL_KNOWN}", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"protoc failed:\n{result.stderr}")


def generate_stubs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    protoc(f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *proto_files())
    for package_dir in [p for p in (out / "stackmesh").rglob("*") if p.is_dir()] + [out / "stackmesh"]:
        (package_dir / "__init__.py").touch()


def generate_descriptor(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # error_details.proto is imported by no contract, but the gateway needs ErrorInfo to
    # print the details of an error status.
    protoc(
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={path}",
        "google/rpc/error_details.proto",
        *proto_files(),
    )


def stale_files(fresh: Path, committed: Path) -> list[str]:
    fresh_files = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    committed_files = {
        p.relative_to(committed) for p in committed.rglob("*") if p.is_file() and p.suffix in {".py", ".pyi"}
    }
    committed_files.discard(Path("pyproject.toml"))
    differ = [str(f) for f in sorted(fresh_files | committed_files) if f not in fresh_files or f not in committed_files]
    differ += [str(f) for f in sorted(fresh_files & committed_files) if not filecmp.cmp(fresh / f, committed / f, shallow=False)]
    return differ


def lint() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "image.binpb"
        generate_descriptor(image)
        buf = Path(sys.executable).parent / "buf"
        result = subprocess.run([str(buf), "lint", str(image), "--config", str(PROTOS / "buf.yaml")])
    if result.returncode != 0:
        sys.exit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    parser.add_argument("--lint", action="store_true", help="run buf lint over the contracts")
    parser.add_argument("--descriptor-only", action="store_true", help="only build the gateway's descriptor set")
    parser.add_argument("--descriptor-out", type=Path, default=DEFAULT_DESCRIPTOR)
    args = parser.parse_args()

    if args.lint:
        lint()
        return
    if args.descriptor_only:
        generate_descriptor(args.descriptor_out)
        return
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate_stubs(Path(tmp))
            differ = stale_files(Path(tmp), STUBS)
        if differ:
            sys.exit("generated stubs are stale, run `make codegen`:\n  " + "\n  ".join(differ))
        return

    shutil.rmtree(STUBS / "stackmesh", ignore_errors=True)
    generate_stubs(STUBS)
    generate_descriptor(args.descriptor_out)
    print(f"stubs in {STUBS.relative_to(PROTOS.parent)}, descriptor set {args.descriptor_out}")


if __name__ == "__main__":
    main()
