#!/usr/bin/env bash
# Builds the Go gRPC client offline from Debian packages: installs the toolchain when it is
# missing, regenerates the Go stubs from protos/ into build/go, and builds
# build/go/bin/stackmesh-go-client. Idempotent; quiet on success.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$REPO/build/go
# GOPATH mode: Debian's Go libraries are source trees under /usr/share/gocode/src with no
# module versions to resolve, and the generated stubs live in a GOPATH of their own.
GEN_GOPATH=$OUT/gopath
GEN_ROOT=stackmesh.dev/gen

# golang-github-golang-protobuf-1-5-dev is named because grpc's dependency on it is an
# alternative whose first choice is the 1.3 API, which the genproto and grpc packages
# (built against 1.5) do not compile with. libprotobuf-dev has the well-known .proto files.
PACKAGES=(
  golang-go protobuf-compiler libprotobuf-dev protoc-gen-go protoc-gen-go-grpc
  golang-google-protobuf-dev golang-google-grpc-dev golang-google-genproto-dev
  golang-github-golang-protobuf-1-5-dev
)
# The API packages the client uses, with every proto package they import.
PROTO_PACKAGES=(common inference vector_io)

install_packages() {
  local missing=()
  for package in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: missing Debian packages (install them as root): ${missing[*]}" >&2
    exit 1
  fi
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}")
  # Refresh the package lists only when the install cannot proceed with the ones there.
  if ! "${install[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    "${install[@]}" >/dev/null
  fi
}

generate() {
  local sites=("$REPO"/.venv/lib/python3*/site-packages)
  local site=${sites[0]}
  if [ ! -f "$site/google/api/annotations.proto" ]; then
    echo "build.sh: google/api/*.proto not found in $site (googleapis-common-protos); run make install first" >&2
    exit 1
  fi
  # The protos have no go_package option: map each file to its package's Go import path,
  # e.g. stackmesh/vector_io/v1/*.proto -> stackmesh.dev/gen/stackmesh/vector_io/v1 (vectoriov1).
  local files=() mappings=()
  for api in "${PROTO_PACKAGES[@]}"; do
    for file in "$REPO"/protos/stackmesh/"$api"/v1/*.proto; do
      local rel=${file#"$REPO"/protos/}
      files+=("$rel")
      mappings+=("M$rel=$GEN_ROOT/stackmesh/$api/v1;${api//_/}v1")
    done
  done
  local opt
  opt=$(IFS=,; echo "${mappings[*]}")
  # Google's own protos keep their go_package: the Go code for google/api and google/rpc is
  # Debian's genproto, which grpc's status package already links (generating a second copy
  # would register the same .proto files twice and panic at start-up).
  rm -rf "$GEN_GOPATH/src/$GEN_ROOT"
  mkdir -p "$GEN_GOPATH/src"
  protoc -I "$REPO/protos" -I /usr/include -I "$site" \
    --go_out="$GEN_GOPATH/src" --go_opt="$opt" \
    --go-grpc_out="$GEN_GOPATH/src" --go-grpc_opt="$opt" \
    "${files[@]}"
}

build() {
  export GO111MODULE=off GOPATH=$GEN_GOPATH:/usr/share/gocode GOCACHE=$OUT/cache GOPROXY=off GOFLAGS=
  mkdir -p "$OUT/bin"
  (cd "$REPO/clients/go" && go build -o "$OUT/bin/stackmesh-go-client" .)
}

install_packages
generate
build
