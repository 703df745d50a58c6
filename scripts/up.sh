#!/usr/bin/env bash
# Quick start: `pulumi up` of a stack (dev unless named) from a fresh clone.
# State goes where Pulumi.yaml's `backend` says (~/.pulumi/gpu-inference-aks-state, outside the clone)
# unless PULUMI_BACKEND_URL names another (azblob://... or https://api.pulumi.com), so every later
# `pulumi` command from any shell finds the same stack. No Pulumi Cloud account is needed.
# Usage: scripts/up.sh [stack] [extra pulumi up flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

stack=${1:-dev}
shift || true

# The Pulumi CLI this project is tested against (README, Prerequisites): @pulumi/pulumi 3.276's engine
# protocol, and the project-level `backend` setting in Pulumi.yaml.
PULUMI_MIN_VERSION=3.276.0

missing=()
command -v pulumi >/dev/null || missing+=("pulumi ${PULUMI_MIN_VERSION} or later (https://www.pulumi.com/docs/iac/download-install/)")
command -v az >/dev/null || missing+=("az, the Azure CLI, signed in with 'az login'")
command -v docker >/dev/null || missing+=("docker with a running engine (builds the CUDA image)")
command -v kubelogin >/dev/null || missing+=("kubelogin, which Pulumi's Kubernetes provider signs in with ('az aks install-cli' installs it)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'error: missing prerequisites:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
pulumi_version=$(pulumi version 2>/dev/null | sed 's/^v//')
if [ "$(printf '%s\n%s\n' "$PULUMI_MIN_VERSION" "$pulumi_version" | sort -V | head -n1)" != "$PULUMI_MIN_VERSION" ]; then
  echo "error: Pulumi CLI ${pulumi_version:-unknown} is older than ${PULUMI_MIN_VERSION}: upgrade it (https://www.pulumi.com/docs/iac/download-install/)" >&2
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
  # Pulumi.yaml's file backend: the directory must exist before the first login to it.
  mkdir -p "$HOME/.pulumi/gpu-inference-aks-state"
  echo "== state: file://~/.pulumi/gpu-inference-aks-state (Pulumi.yaml backend; README: Where state lives)"
else
  echo "== state: $PULUMI_BACKEND_URL (PULUMI_BACKEND_URL)"
fi

stack_exists=false
pulumi stack select "$stack" >/dev/null 2>&1 && stack_exists=true

# A file or blob backend encrypts secrets with a passphrase unless a secrets provider is given.
if [[ "${PULUMI_BACKEND_URL:-}" != https://* ]] && [ -z "${PULUMI_SECRETS_PROVIDER:-}" ] &&
  [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -t 0 ]; then
    echo "error: no terminal to ask for the passphrase that encrypts the stack's secrets: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) and retry" >&2
    exit 1
  fi
  read -r -s -p "Passphrase that encrypts stack $stack's secrets (keep it: destroy needs it): " PULUMI_CONFIG_PASSPHRASE
  echo
  if [ -z "$PULUMI_CONFIG_PASSPHRASE" ]; then
    echo "error: an empty passphrase would leave the scoring keys unprotected in the state file" >&2
    exit 1
  fi
  if [ "$stack_exists" = false ]; then
    # First time: a typo here would lock the stack's secrets away for good, so ask twice.
    read -r -s -p "Type it again to confirm: " confirmation
    echo
    if [ "$confirmation" != "$PULUMI_CONFIG_PASSPHRASE" ]; then
      echo "error: the two passphrases differ; nothing was created. Run scripts/up.sh $stack again." >&2
      exit 1
    fi
  fi
  export PULUMI_CONFIG_PASSPHRASE
fi

if [ "$stack_exists" = false ]; then
  pulumi stack init "$stack" ${PULUMI_SECRETS_PROVIDER:+--secrets-provider "$PULUMI_SECRETS_PROVIDER"}
fi

teardown_hint() {
  echo "Tear down:    pulumi destroy --stack $stack   (GPU nodes bill by the hour)"
}

# Resources the stack's state holds besides the stack itself and its providers.
created_resources() {
  pulumi stack export --stack "$stack" 2>/dev/null | node -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const resources = JSON.parse(text || "{}").deployment?.resources ?? [];
      const real = resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"));
      console.log(real.length);
    });' 2>/dev/null || echo 0
}

if ! pulumi up --stack "$stack" "$@"; then
  count=$(created_resources)
  echo
  echo "error: pulumi up failed." >&2
  if [ "$count" -gt 0 ]; then
    echo "The stack already holds $count resource(s) in Azure, which keep billing until removed:" >&2
    teardown_hint >&2
    echo "(or fix the cause and run scripts/up.sh $stack again: it continues where it stopped)" >&2
  fi
  exit 1
fi
echo
echo "Scoring URI:  $(pulumi stack output scoringUri --stack "$stack")"
echo "Try it:       python3 app/client.py   (20 held-out digits, expected vs predicted)"
teardown_hint
