#!/usr/bin/env bash
# Prometheus and promtool for the monitoring tests (deploy/prometheus, tests/deploy,
# tests/integration/test_prometheus_scrape.py), from Debian's `prometheus` package.
# Idempotent: does nothing but print the versions when both binaries are there.
#
# The package's maintainer scripts start a system Prometheus on :9090. The tests run their own
# server on a free port with their own storage, so the system service is kept from starting
# (a policy-rc.d that refuses every start while apt runs) and stopped and disabled if it runs.
set -euo pipefail

has_tools() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

stop_system_service() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ]; then
        /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
}

install_package() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "prometheus.sh: installing the prometheus package needs root (apt-get)" >&2
        exit 1
    fi
    local policy=/usr/sbin/policy-rc.d own_policy=""
    if [ ! -e "$policy" ]; then
        # invoke-rc.d exit 101 = "action forbidden": no service starts during this install.
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists yet; an old list may name versions long gone.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if [ -n "$own_policy" ]; then rm -f "$policy"; trap - EXIT; fi
    stop_system_service
}

has_tools || install_package
has_tools || { echo "prometheus.sh: prometheus/promtool still missing after install" >&2; exit 1; }
echo "prometheus package: $(dpkg-query -W -f='${Version}' prometheus 2>/dev/null || echo 'not from apt')"
prometheus --version 2>&1 | sed -n 1p
promtool --version 2>&1 | sed -n 1p
