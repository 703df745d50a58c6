#!/usr/bin/env bash
# Runs the app's Python (CPython 3.12 with exactly the image's packages, plus the test tools) with
# the given arguments, building the cached environment first if the lock changed:
#   cd app && SCORING_PRIMARY_KEY=dev-key DEVICE=cpu ../scripts/python.sh -m scoring
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/python-env.sh"
python=$(cd "$here" && ensure_python_env)
exec "$python" "$@"
