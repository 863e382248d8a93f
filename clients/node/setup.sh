#!/usr/bin/env bash
# Installs the Node client's dependencies exactly as package-lock.json pins them; does nothing
# when node_modules is already newer than the lock file, so callers may run it every time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# npm ci writes node_modules/.package-lock.json last, so its age tells whether an install
# finished after the lock file last changed.
if [[ node_modules/.package-lock.json -nt package-lock.json ]]; then
  exit 0
fi
# --ignore-scripts: no dependency needs an install script (protobufjs's only prints
# version-scheme warnings). Errors go to stderr; stdout would only say "added N packages".
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
