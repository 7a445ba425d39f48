#!/usr/bin/env bash
# kustomize for the Kubernetes manifest tests (tests/deploy/test_manifests.py), built from the
# Go module proxy into .local/tools/bin. Idempotent: does nothing but print the version when
# the pinned version is there. v5.8.2 is the newest release that builds with Go 1.26
# (v5.8.3 needs Go 1.27).
set -euo pipefail

VERSION=v5.8.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/.local/tools/bin"

installed() { [ -x "$BIN/kustomize" ] && "$BIN/kustomize" version 2>/dev/null | grep -qx "$VERSION"; }

if ! installed; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    [ -x "$GO" ] || { echo "kustomize.sh: needs Go (1.26 or later) to build kustomize" >&2; exit 1; }
    mkdir -p "$BIN"
    GOBIN="$BIN" GOFLAGS=-buildvcs=false "$GO" install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION"
fi
installed || { echo "kustomize.sh: $BIN/kustomize is not $VERSION after install" >&2; exit 1; }
echo "kustomize $("$BIN/kustomize" version)"
