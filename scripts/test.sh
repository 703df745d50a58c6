#!/usr/bin/env bash
# Runs every test of the project, installing what a fresh clone lacks first:
# Node 24 (when the system Node is older), the npm packages, and the Debian Python packages the app
# is tested with. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node
ensure_npm_packages

# The app is tested with Debian's Python stack (torch 1.13 CPU, aiohttp 3.8, numpy 1.24) on /usr/bin/python3.
PYTHON=/usr/bin/python3
debian_packages=(python3 python3-torch python3-aiohttp python3-numpy python3-pytest python3-prometheus-client
  python3-ujson python3-rapidjson)
if ! "$PYTHON" -c 'import torch, aiohttp, numpy, pytest, prometheus_client, ujson, rapidjson' 2>/dev/null; then
  echo "== installing Debian packages: ${debian_packages[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${debian_packages[@]}" >/dev/null
fi

echo "== node $(node --version), $("$PYTHON" --version)"
echo "== TypeScript: type check, lint, workflow lint, program and policy tests"
npm test

echo "== Python: app tests and the benchmark's short mode"
"$PYTHON" -m pytest -q app/tests bench/tests
echo "== all tests passed"
