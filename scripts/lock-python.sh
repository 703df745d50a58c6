#!/usr/bin/env bash
# Re-locks the app's Python dependencies after an edit of app/requirements.in or
# app/requirements-test.in: every transitive package pinned with hashes, for the image's platform
# (Linux x86_64, CPython 3.12). The test lock is constrained by the runtime lock, so both always
# agree on every package the image installs (app/tests/end_to_end/test_dependencies.py checks it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
uv=$(ensure_uv)
# --upgrade: every package not pinned in a .in file goes to its newest allowed version (a re-lock is
# how transitive packages are kept current); requirements-overrides.txt says which declared caps are lifted.
common=(--python-version 3.12 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet
  --no-header --annotation-style line --index-url https://pypi.org/simple --upgrade
  --override requirements-overrides.txt)
(cd app && "$uv" pip compile "${common[@]}" requirements.in -o requirements.txt)
(cd app && "$uv" pip compile "${common[@]}" requirements-test.in -o requirements-test.txt)
echo "locked app/requirements.txt and app/requirements-test.txt"
