#!/usr/bin/env bash
# Builds the Java gRPC client offline from Debian packages (no Maven, no Maven Central):
# installs the JDK-side packages when they are missing, generates Java from protos/ and the
# google/api + google/rpc protos with Debian's protoc and grpc-java plugin into
# build/java/gen, compiles everything into build/java/classes, and writes
# build/java/classpath.txt and the launcher build/java/run.sh.
# Idempotent and quiet on success; rebuilds only when an input changed (see build/java/stamp).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=$REPO/clients/java/src
OUT=$REPO/build/java
MAIN_CLASS=StackmeshExample
JAVA_DIR=/usr/share/java

# libgrpc-java declares none of its Java dependencies as Debian dependencies (only
# libopencensus-java), so the runtime pieces are named here: protobuf, guava, perfmark, gson
# (grpc-core's JSON parser), netty (the transport; it pulls jctools). protobuf-compiler is
# protoc 3.21, matching libprotobuf-java 3.21; libprotobuf-dev has the well-known .proto files.
# libgoogle-common-protos-java is deliberately absent: Debian's is 1.16.0, which predates
# google.rpc.ErrorInfo, so the google/api and google/rpc classes are generated below.
PACKAGES=(
  openjdk-17-jdk-headless protobuf-compiler libprotobuf-dev protobuf-compiler-grpc-java-plugin
  libprotobuf-java libgrpc-java libguava-java libperfmark-java libgoogle-gson-java libnetty-java
  libjctools-java libgeronimo-annotation-1.3-spec-java
)
# Unversioned Debian symlinks in /usr/share/java: grpc-java 1.41.3 and what its poms list as
# runtime dependencies. Annotation-only dependencies (jsr305, error-prone, animal-sniffer) are
# not needed at run time and generated code does not reference them.
JARS=(
  grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub
  protobuf guava perfmark-api gson
  netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-codec-socks netty-common
  netty-handler netty-handler-proxy netty-resolver netty-transport jctools-core
)
# Compile-only: grpc_java_plugin 1.41 stamps every stub with @javax.annotation.Generated (no
# option to omit it), which JDK 11+ no longer has. Its retention is SOURCE: not needed to run.
COMPILE_ONLY_JARS=(geronimo-annotation-1.3-spec)
# The google protos the stackmesh protos import, plus google.rpc.Status (the type
# grpc-protobuf's StatusProto returns) and its error details (ErrorInfo) and codes.
GOOGLE_PROTOS=(
  google/api/annotations.proto google/api/http.proto google/api/httpbody.proto
  google/rpc/status.proto google/rpc/error_details.proto google/rpc/code.proto
)

install_packages() {
  local missing=()
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: missing Debian packages (install them as root): ${missing[*]}" >&2
    exit 1
  fi
  # Lock::Timeout: wait for another apt/dpkg run (e.g. the Go client's build.sh) to finish.
  local lock=(-o DPkg::Lock::Timeout=600)
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}")
  # Refresh the package lists only when the install cannot proceed with the ones there.
  if ! "${install[@]}" >/dev/null 2>&1; then
    apt-get "${lock[@]}" update -qq
    "${install[@]}" >/dev/null
  fi
}

find_inputs() {
  SITE=$(echo "$REPO"/.venv/lib/python3*/site-packages)
  if [ ! -f "$SITE/google/rpc/error_details.proto" ]; then
    echo "build.sh: google/api and google/rpc .proto files not found in $SITE (googleapis-common-protos); run make install first" >&2
    exit 1
  fi
  PLUGIN=$(dpkg -L protobuf-compiler-grpc-java-plugin | grep -m1 '/bin/grpc_java_plugin$' || true)
  if [ ! -x "$PLUGIN" ]; then
    echo "build.sh: grpc_java_plugin not found in protobuf-compiler-grpc-java-plugin" >&2
    exit 1
  fi
  local jar
  for jar in "${JARS[@]}" "${COMPILE_ONLY_JARS[@]}"; do
    if [ ! -f "$JAVA_DIR/$jar.jar" ]; then
      echo "build.sh: $JAVA_DIR/$jar.jar is missing" >&2
      exit 1
    fi
  done
  JAR_CLASSPATH=$(printf "$JAVA_DIR/%s.jar:" "${JARS[@]}")
  JAR_CLASSPATH=${JAR_CLASSPATH%:}
  COMPILE_CLASSPATH=$JAR_CLASSPATH$(printf ":$JAVA_DIR/%s.jar" "${COMPILE_ONLY_JARS[@]}")
  (cd "$REPO/protos" && find stackmesh -name '*.proto' | LC_ALL=C sort) >"$OUT/.protos"
  mapfile -t STACKMESH_PROTOS <"$OUT/.protos"
  (cd "$SRC" && find . -name '*.java' | LC_ALL=C sort) >"$OUT/.sources"
}

# A digest of everything the build reads: the build script, the .proto and .java files,
# the tool and library versions. An unchanged digest with the outputs in place means done.
input_digest() {
  {
    sha256sum "${BASH_SOURCE[0]}"
    (cd "$REPO/protos" && sha256sum "${STACKMESH_PROTOS[@]}")
    (cd "$SITE" && sha256sum "${GOOGLE_PROTOS[@]}")
    (cd "$SRC" && xargs -a "$OUT/.sources" -d '\n' sha256sum)
    /usr/bin/protoc --version
    dpkg-query -W "${PACKAGES[@]}"
    javac -version 2>&1
    echo "$COMPILE_CLASSPATH $REPO"
  } | sha256sum | cut -d' ' -f1
}

build() {
  local staging=$OUT/.staging
  rm -rf "$staging"
  mkdir -p "$staging/gen" "$staging/classes"
  # Debian's protoc (3.21, the runtime's version), not grpc_tools' newer bundled one. The
  # stackmesh protos have no java_package: their classes land in packages named after the
  # proto packages (stackmesh.inference.v1.InferenceServiceOuterClass.*, ...Grpc).
  # Its warnings (an outer class name that differs from a type's only in case, which matters
  # on case-insensitive file systems only) are shown only when it fails.
  if ! /usr/bin/protoc -I "$REPO/protos" -I "$SITE" -I /usr/include \
    --java_out="$staging/gen" \
    --plugin=protoc-gen-grpc-java="$PLUGIN" --grpc-java_out="$staging/gen" \
    "${STACKMESH_PROTOS[@]}" "${GOOGLE_PROTOS[@]}" 2>"$staging/protoc.log"; then
    cat "$staging/protoc.log" >&2
    exit 1
  fi
  find "$staging/gen" -name '*.java' >"$staging/sources.txt"
  sed "s|^\./|$SRC/|" "$OUT/.sources" >>"$staging/sources.txt"
  # -proc:none: no annotation processors to look for; warnings and notes (deprecated
  # generated methods) are shown only when the compile fails.
  if ! javac -proc:none -nowarn -encoding UTF-8 -cp "$COMPILE_CLASSPATH" -d "$staging/classes" \
    @"$staging/sources.txt" >"$staging/javac.log" 2>&1; then
    cat "$staging/javac.log" >&2
    exit 1
  fi
  rm -rf "$OUT/gen" "$OUT/classes"
  mv "$staging/gen" "$OUT/gen"
  mv "$staging/classes" "$OUT/classes"
  rm -rf "$staging"
  echo "$OUT/classes:$JAR_CLASSPATH" >"$OUT/classpath.txt"
  cat >"$OUT/run.sh" <<EOF
#!/bin/sh
# Generated by clients/java/build.sh: runs the Java client with Debian's grpc-java jars.
exec java -cp "\$(dirname "\$0")/classes:$JAR_CLASSPATH" $MAIN_CLASS "\$@"
EOF
  chmod +x "$OUT/run.sh"
}

main() {
  mkdir -p "$OUT"
  # One build at a time: the test suite and a person may run this concurrently.
  exec 9>"$OUT/.lock"
  flock 9
  install_packages
  find_inputs
  local digest
  digest=$(input_digest)
  if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$digest" ] && [ -x "$OUT/run.sh" ] && [ -d "$OUT/classes" ]; then
    return
  fi
  rm -f "$OUT/stamp"
  build
  echo "$digest" >"$OUT/stamp"
}

main
