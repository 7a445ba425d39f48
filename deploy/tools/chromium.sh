#!/usr/bin/env bash
# Headless Chromium for the report rendering test (tests/test_report.py), from Debian's
# `chromium` package. Idempotent: does nothing but print the version when it is there.
# Debian's archive keeps only the current build of a release (security updates replace it),
# so the version is not pinned; it is printed for the CI log instead.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "chromium.sh: installing the chromium package needs root (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists yet; an old list may name versions long gone.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -x "$CHROMIUM" ] || { echo "chromium.sh: $CHROMIUM still missing after install" >&2; exit 1; }
echo "chromium package: $(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo 'not from apt')"
