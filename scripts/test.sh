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
# Debian's torch calls the system BLAS, which is the slow reference one unless OpenBLAS is installed:
# with it, CPU matrix products (training, warm-up, accuracy checks) run ~25x faster.
PYTHON=/usr/bin/python3
debian_packages=(python3 python3-torch python3-aiohttp python3-numpy python3-pytest python3-pytest-xdist
  python3-prometheus-client python3-ujson python3-rapidjson python3-pyflakes libopenblas0-pthread)
if ! "$PYTHON" -c 'import torch, aiohttp, numpy, pytest, xdist, prometheus_client, ujson, rapidjson, pyflakes' 2>/dev/null ||
  ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q 'ok installed'; then
  echo "== installing Debian packages: ${debian_packages[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${debian_packages[@]}" >/dev/null
fi

echo "== node $(node --version), $("$PYTHON" --version)"
# The two halves share nothing, so they run side by side; each writes its own log, printed in full.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
(
  echo "== TypeScript: type check, lint, workflow lint, program, policy and cost tests"
  npm test
) >"$logs/typescript.log" 2>&1 &
typescript_pid=$!
(
  echo "== Python: lint, app tests and the benchmark's short mode"
  # The two halves and pytest's two workers already fill the cores: OpenBLAS's own threads would only
  # spin against them (measured: half the suite's system time).
  export OPENBLAS_NUM_THREADS=1
  # app/tests/fixtures holds deliberately broken entry scripts, so it is left out.
  "$PYTHON" -m pyflakes app/scoring app/*.py app/tests/*.py bench
  "$PYTHON" -m pytest -q -p no:cacheprovider -n 2 app/tests bench/tests
) >"$logs/python.log" 2>&1 &
python_pid=$!

status=0
wait "$typescript_pid" || status=1
cat "$logs/typescript.log"
wait "$python_pid" || status=1
cat "$logs/python.log"
if [ "$status" -ne 0 ]; then
  echo "== FAILED (see above)"
  exit 1
fi
echo "== all tests passed"
