"""Generate the Python stubs (with .pyi) and the gateway's descriptor set from protos/.

Usage: python protos/codegen.py [--check | --lint | --breaking | --bundle | --release | --descriptor-only]
                                [--descriptor-out PATH]

--check regenerates into a temporary directory and exits 1, listing the files that
differ, when the committed stubs under protos/gen/python are stale.
--lint runs `buf lint` (rules in protos/buf.yaml) over an image of the contracts; buf
reads the image rather than the directory because the google/api imports come from
site-packages, not from the Buf Schema Registry.
--breaking runs `buf breaking` (rules in protos/buf.yaml) against the last released
contract, protos/released/stackmesh.txtpb, and exits 1 listing what would break callers.
--release records the current contract as the released one (do it when cutting a release).
--bundle writes build/stackmesh-protos.tar.gz: the .proto files under their package paths,
the google/api and google/rpc files they import, buf.yaml and the descriptor set, for
polyglot callers to feed to protoc or `buf generate`.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import grpc_tools
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, text_format

PROTOS = Path(__file__).resolve().parent
STUBS = PROTOS / "gen" / "python"
DEFAULT_DESCRIPTOR = PROTOS.parent / "build" / "stackmesh.binpb"
BUNDLE = PROTOS.parent / "build" / "stackmesh-protos.tar.gz"
# Text, so a release shows up in review as the contract lines that changed.
RELEASED = PROTOS / "released" / "stackmesh.txtpb"
RELEASED_HEADER = (
    "# The last released stackmesh contract (a buf image without source info), which\n"
    "# `buf breaking` compares every change against. Regenerate only when cutting a\n"
    "# release: make protos-release.\n"
)
BUNDLE_README = """# stackmesh API contracts

stackmesh/<api>/v1/*.proto   the services and their messages (package stackmesh.<api>.v1)
google/api, google/rpc        the googleapis files they import (HTTP annotations, error details)
stackmesh.binpb               the same as one descriptor set (with imports and source info)
buf.yaml                      lint and breaking-change rules

The google/protobuf well-known types ship with protoc and buf and are not repeated here.

  buf generate --template buf.gen.yaml .             # with your own buf.gen.yaml
  protoc -I . --go_out=out --go-grpc_out=out $(find stackmesh -name '*.proto')
  grpcurl -protoset stackmesh.binpb -plaintext localhost:50051 list
"""
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


def buf(*args: str) -> None:
    """Runs buf (the buf-bin wheel) over a fresh image of the contracts; `{image}` in args
    stands for that image."""
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "image.binpb"
        generate_descriptor(image)
        command = [str(Path(sys.executable).parent / "buf"), *(arg.replace("{image}", str(image)) for arg in args)]
        result = subprocess.run(command)
    if result.returncode != 0:
        sys.exit(result.returncode)


def lint() -> None:
    buf("lint", "{image}", "--config", str(PROTOS / "buf.yaml"))


def breaking() -> None:
    buf("breaking", "{image}", "--against", str(RELEASED), "--config", str(PROTOS / "buf.yaml"))


def release() -> None:
    """The contract without source info (its comments are not part of it); buf needs the
    imported google files beside ours to resolve the field types."""
    with tempfile.TemporaryDirectory() as tmp:
        descriptor = Path(tmp) / "stackmesh.binpb"
        generate_descriptor(descriptor)
        released = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes())
    for file in released.file:
        file.ClearField("source_code_info")
    RELEASED.parent.mkdir(exist_ok=True)
    RELEASED.write_text(RELEASED_HEADER + text_format.MessageToString(released))


def bundle(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        descriptor = Path(tmp) / "stackmesh.binpb"
        generate_descriptor(descriptor)
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file
        googleapis = sorted(f.name for f in files if f.name.startswith(("google/api/", "google/rpc/")))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w:gz") as archive:
            for name in proto_files():
                archive.add(PROTOS / name, arcname=name)
            for name in googleapis:
                archive.add(GOOGLEAPIS / name, arcname=name)
            archive.add(PROTOS / "buf.yaml", arcname="buf.yaml")
            archive.add(descriptor, arcname="stackmesh.binpb")
            readme = BUNDLE_README.encode()
            info = tarfile.TarInfo("README.md")
            info.size = len(readme)
            archive.addfile(info, io.BytesIO(readme))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    parser.add_argument("--lint", action="store_true", help="run buf lint over the contracts")
    parser.add_argument("--breaking", action="store_true", help="fail on changes that break callers of the released contract")
    parser.add_argument("--release", action="store_true", help="record the current contract as the released one")
    parser.add_argument("--bundle", type=Path, nargs="?", const=BUNDLE, help=f"write the API bundle (default {BUNDLE})")
    parser.add_argument("--descriptor-only", action="store_true", help="only build the gateway's descriptor set")
    parser.add_argument("--descriptor-out", type=Path, default=DEFAULT_DESCRIPTOR)
    args = parser.parse_args()

    if args.lint:
        lint()
        return
    if args.breaking:
        breaking()
        return
    if args.release:
        release()
        return
    if args.bundle:
        bundle(args.bundle)
        print(f"API bundle in {args.bundle}")
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
