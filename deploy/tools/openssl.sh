#!/usr/bin/env bash
# openssl for the secure local Kafka broker (deploy/kafka/kafka.sh up-secure makes its CA,
# server and client certificates with it; tests/integration/test_secure_broker.py), from
# Debian's `openssl` package. Idempotent: does nothing but print the version when present.
set -euo pipefail

if ! command -v openssl >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "openssl.sh: installing the openssl package needs root (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists yet; an old list may name versions long gone.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
command -v openssl >/dev/null 2>&1 || { echo "openssl.sh: openssl still missing after install" >&2; exit 1; }
openssl version
