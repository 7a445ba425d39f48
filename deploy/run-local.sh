#!/usr/bin/env bash
# `make run`: the gateway in the background and the worker in the foreground, with the seed
# policies and the example sources (deploy/gateway/sources.yaml). The example sources' secrets
# are generated once into .local/gateway/secrets.env (mode 0600) and printed, so a helpdesk
# (or curl) can sign deliveries. Ctrl-C stops both. Settings already in the environment win.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SECRETS=.local/gateway/secrets.env

if [[ ! -s "$SECRETS" ]]; then
  mkdir -p "$(dirname "$SECRETS")"
  ( umask 077
    for name in SLA_ZENDESK_SECRET SLA_JIRA_SECRET SLA_FRESHDESK_TOKEN SLA_ZAMMAD_SECRET SLA_HELPSCOUT_SECRET; do
      printf '%s=%s\n' "$name" "$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(24))')"
    done >"$SECRETS" )
fi
while IFS='=' read -r name value; do
  [[ -n "$name" && -z "${!name:-}" ]] && export "$name=$value"
done <"$SECRETS"

export SLA_POLICY_DIR="${SLA_POLICY_DIR:-deploy/policies}"
export SLA_GATEWAY_SOURCES="${SLA_GATEWAY_SOURCES:-deploy/gateway/sources.yaml}"
mkdir -p .local/gateway
"$BIN/sla-timer" gateway >>.local/gateway/gateway.log 2>&1 &
gateway=$!
trap 'kill "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true' EXIT
echo "gateway: http://${SLA_GATEWAY_HOST:-127.0.0.1}:${SLA_GATEWAY_PORT:-8080}/hooks/<source> (log .local/gateway/gateway.log, secrets $SECRETS)"
"$BIN/sla-timer" worker
