#!/usr/bin/env bash
# Runs every test of the project, installing what a fresh clone lacks first: Node 24 (when the
# system Node is older), the npm packages, and the app's Python environment (scripts/python-env.sh:
# CPython 3.12 with exactly the image's hash-locked packages from app/requirements.txt plus the test
# tools and protocol peers of app/requirements-test.txt, built once per lock and cached), and the
# real Pulumi CLI at the pinned version (scripts/pulumi-cli.sh: built once per version from the Go
# module proxy and cached). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/python-env.sh
source scripts/pulumi-cli.sh

ensure_node
ensure_npm_packages
PYTHON=$(ensure_python_env)
PYTHON_BIN=$(dirname "$PYTHON")

echo "== node $(node --version), $("$PYTHON" --version) in ${PYTHON_BIN%/bin}"
# The two halves share nothing, so they run side by side; each writes its own log, printed in full.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
(
  echo "== TypeScript: type check, lint, workflow lint, program, real-engine, policy and cost tests"
  # The real-engine tests (test/engine/) need the pinned CLI; building it (minutes, once per version)
  # overlaps the Python half instead of delaying both.
  PULUMI_CLI_DIR=$(ensure_pulumi_cli)
  export PULUMI_CLI_DIR
  npm test
) >"$logs/typescript.log" 2>&1 &
typescript_pid=$!
(
  echo "== Python: ruff lint and format, mypy, app tests and the benchmark's short mode"
  # torch's CPU kernels would start one OpenMP thread per core in every test server; with the two
  # halves and the pytest workers already filling the cores they would only spin against each other.
  export OMP_NUM_THREADS=1
  "$PYTHON_BIN/ruff" check app bench
  "$PYTHON_BIN/ruff" format --check app bench
  "$PYTHON_BIN/mypy" --cache-dir "$PYTHON_ENV_CACHE/mypy-cache" app bench
  # Four workers on two cores: most of a test's time is a server subprocess starting (importing torch).
  "$PYTHON" -m pytest -q -p no:cacheprovider -n 4 app/tests bench/tests
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
