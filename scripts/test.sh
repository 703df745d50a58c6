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

# Both halves run the real CLI (test/engine/, app/tests/end_to_end/test_client.py): built once, before either.
PULUMI_CLI_DIR=$(ensure_pulumi_cli)
export PULUMI_CLI_DIR
echo "== node $(node --version), $("$PYTHON" --version) in ${PYTHON_BIN%/bin}, pulumi $("$PULUMI_CLI_DIR/pulumi" version)"
# The two halves share nothing, so they run side by side. Each streams its lines as they come, prefixed
# with its name (so a long run shows progress), and keeps its log for the closing count.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

typescript_half() {
  echo "== TypeScript: type check, lint, workflow lint, program, real-engine, policy and cost tests"
  npm test
}

python_half() {
  echo "== Python: ruff lint and format, mypy, app tests and the benchmark's short mode"
  # torch's CPU kernels would start one OpenMP thread per core in every test server; with the two
  # halves and the pytest workers already filling the cores they would only spin against each other.
  export OMP_NUM_THREADS=1
  # Four workers on two cores: most of a test's time is a server subprocess starting (importing torch).
  "$PYTHON_BIN/ruff" check app bench scripts &&
    "$PYTHON_BIN/ruff" format --check app bench scripts &&
    "$PYTHON_BIN/mypy" --cache-dir "$PYTHON_ENV_CACHE/mypy-cache" app bench scripts &&
    "$PYTHON" -m pytest -q -p no:cacheprovider -n 4 app/tests bench/tests
}

# Runs <name>_half, its output streamed with a "<name>| " prefix and kept in $logs/<name>.log, its
# exit status in $logs/<name>.rc.
run_half() {
  set +e
  "${1}_half" 2>&1 | tee "$logs/$1.log" | sed -u "s/^/$1| /"
  echo "${PIPESTATUS[0]}" >"$logs/$1.rc"
}
run_half typescript &
run_half python &
wait

# One closing count over both halves: node's test runner ("ℹ pass N" once per npm script) and pytest's
# summary line ("1 failed, 718 passed, 1 skipped, … in 246.73s").
node_counts=$(grep -E '^ℹ (pass|fail|skipped) [0-9]+$' "$logs/typescript.log" || true)
pytest_counts=$(grep -E '^[0-9]+ (passed|failed|skipped|errors?)\b.* in [0-9.]+s' "$logs/python.log" | tail -n 1 | tr ',' '\n' || true)
sum() { printf '%s\n' "$1" | { grep -oE "$2" || true; } | { grep -oE '[0-9]+' || true; } | awk '{ n += $1 } END { print n + 0 }'; }
passed=$(($(sum "$node_counts" 'pass [0-9]+') + $(sum "$pytest_counts" '[0-9]+ passed')))
failed=$(($(sum "$node_counts" 'fail [0-9]+') + $(sum "$pytest_counts" '[0-9]+ (failed|errors?)')))
skipped=$(($(sum "$node_counts" 'skipped [0-9]+') + $(sum "$pytest_counts" '[0-9]+ skipped')))
if [ "$(cat "$logs/typescript.rc")" -ne 0 ] || [ "$(cat "$logs/python.rc")" -ne 0 ]; then
  echo "== FAILED: typescript exit $(cat "$logs/typescript.rc"), python exit $(cat "$logs/python.rc") (see above)"
  echo "total: $passed passed, $((failed > 0 ? failed : 1)) failed, $skipped skipped"
  exit 1
fi
echo "== all tests passed"
echo "total: $passed passed, $failed failed, $skipped skipped"
