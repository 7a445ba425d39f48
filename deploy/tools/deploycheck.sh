#!/usr/bin/env bash
# deploycheck (deploy/tools/deploycheck): loads deploy/compose.yaml with compose-go, the library
# `docker compose` uses, and lists a Docker build context with moby/patternmatcher, for the
# tests in tests/deploy/test_manifests.py where no Docker engine runs. Built with the pinned
# modules of its go.mod/go.sum into .local/tools/bin; rebuilt only when its source changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/deploy/tools/deploycheck"
BIN="$ROOT/.local/tools/bin"
STAMP="$ROOT/.local/tools/deploycheck.source"

source_hash() { cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-16; }

if [ ! -x "$BIN/deploycheck" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$(source_hash)" ]; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    [ -x "$GO" ] || { echo "deploycheck.sh: needs Go (1.24 or later) to build deploycheck" >&2; exit 1; }
    mkdir -p "$BIN"
    (cd "$SRC" && GOBIN="$BIN" GOFLAGS="-buildvcs=false -mod=readonly" "$GO" install .)
    source_hash >"$STAMP"
fi
echo "deploycheck: compose-go $(sed -n 's/^\tgithub.com\/compose-spec\/compose-go\/v2 //p' "$SRC/go.mod")"
