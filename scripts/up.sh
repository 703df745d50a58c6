#!/usr/bin/env bash
# Quick start: `pulumi up` of a stack (dev unless named) from a fresh clone.
# State lives in a local file backend (.pulumi-state/) unless PULUMI_BACKEND_URL names another
# (azblob://... or https://api.pulumi.com), so no Pulumi Cloud account is needed.
# Usage: scripts/up.sh [stack] [extra pulumi up flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

stack=${1:-dev}
shift || true

missing=()
command -v pulumi >/dev/null || missing+=("pulumi (https://www.pulumi.com/docs/iac/download-install/)")
command -v az >/dev/null || missing+=("az, the Azure CLI, signed in with 'az login'")
command -v docker >/dev/null || missing+=("docker with a running engine (builds the CUDA image)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'error: missing prerequisites:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
if ! az account show >/dev/null 2>&1; then
  echo "error: the Azure CLI is not signed in: run 'az login' (and 'az account set -s <subscription>')" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "error: docker is installed but its engine is not reachable: start Docker and retry" >&2
  exit 1
fi

ensure_node
ensure_npm_packages

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi
echo "== state backend: $PULUMI_BACKEND_URL"
# A local or blob backend encrypts secrets with a passphrase unless a secrets provider is given.
if [[ "$PULUMI_BACKEND_URL" != https://* ]] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  read -r -s -p "Passphrase that encrypts this stack's secrets (keep it: destroy needs it): " PULUMI_CONFIG_PASSPHRASE
  echo
  export PULUMI_CONFIG_PASSPHRASE
fi

pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack" ${PULUMI_SECRETS_PROVIDER:+--secrets-provider "$PULUMI_SECRETS_PROVIDER"}
pulumi up --stack "$stack" "$@"
echo
echo "Scoring URI:  $(pulumi stack output scoringUri --stack "$stack")"
echo "Try it:       python3 app/client.py   (20 held-out digits, expected vs predicted)"
echo "Tear down:    pulumi destroy --stack $stack   (GPU nodes bill by the hour)"
