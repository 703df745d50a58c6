#!/usr/bin/env bash
# Known vulnerabilities in what the project ships and runs: the image's Python lock
# (app/requirements.txt), the test lock (app/requirements-test.txt) and the npm packages
# (package-lock.json). Exits 1 when any scan reports a known vulnerability, and also when a scan could
# not check everything (an advisory service out of reach is a failure, never a silent skip).
#
# Needs the network: pip-audit asks the OSV database (api.osv.dev, its default service) and npm audit
# asks the npm registry's advisory endpoint. CI runs it (.github/workflows/pull-request.yml and
# audit.yml); a machine that reaches only package mirrors gets exit 1 with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/python-env.sh

PIP_AUDIT_VERSION=2.10.1
status=0
uv=$(ensure_uv) || exit 1
for lock in app/requirements.txt app/requirements-test.txt; do
  echo "== pip-audit $lock"
  # --disable-pip --require-hashes: audit the lock as written (every package pinned and hashed) without
  # resolving or installing it; --strict: a package that could not be audited fails the scan.
  if ! "$uv" tool run --quiet --from "pip-audit==$PIP_AUDIT_VERSION" pip-audit --strict --disable-pip \
    --require-hashes --progress-spinner off --desc on -r "$lock"; then
    echo "::error title=pip-audit::$lock: known vulnerabilities, or packages that could not be audited (above)"
    status=1
  fi
done

ensure_node || exit 1
echo "== npm audit (package-lock.json)"
# Every package, dev tools included: the test command and `pulumi up` run them on the deployer's machine.
if ! npm audit --audit-level=low; then
  echo "::error title=npm audit::known vulnerabilities in the npm packages, or the advisory endpoint failed (above)"
  status=1
fi
exit "$status"
