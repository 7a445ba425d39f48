#!/usr/bin/env bash
# The AsyncAPI validator for tests/test_asyncapi.py: the official parser, @asyncapi/parser, at
# the versions pinned by deploy/tools/asyncapi/package-lock.json, installed with `npm ci` into
# .local/tools/asyncapi (node_modules never enters the repo). deploy/tools/asyncapi/validate.mjs
# loads it from there. Idempotent: does nothing but print the versions when the installed tree
# was made from the current lock file.
#
# Install scripts are not run (--ignore-scripts): no package here needs one, and the only one in
# the tree (@scarf/scarf, pulled in by Spectral) would send install analytics.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SOURCE="$ROOT/deploy/tools/asyncapi"
DEST="$ROOT/.local/tools/asyncapi"
LOCK="$SOURCE/package-lock.json"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "asyncapi.sh: Node.js and npm are missing; installing them needs root (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
    echo "asyncapi.sh: Node.js $(node --version) is too old: @asyncapi/parser needs 18.18 or later" >&2
    exit 1
fi

stamp="$(sha256sum "$SOURCE/package.json" "$LOCK" | sha256sum | cut -c1-16)"
if [ "$(cat "$DEST/.installed" 2>/dev/null || true)" != "$stamp" ] \
    || [ ! -f "$DEST/node_modules/@asyncapi/parser/package.json" ]; then
    rm -rf "$DEST"
    mkdir -p "$DEST"
    cp "$SOURCE/package.json" "$LOCK" "$DEST/"
    SCARF_ANALYTICS=false npm ci --prefix "$DEST" --ignore-scripts --no-audit --no-fund \
        --loglevel=error
    echo "$stamp" >"$DEST/.installed"
fi
echo "node $(node --version), npm $(npm --version 2>/dev/null)"
echo "@asyncapi/parser $(node -p "require('$DEST/node_modules/@asyncapi/parser/package.json').version")"
