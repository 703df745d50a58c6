# shellcheck shell=bash
# The app's Python environment for tests and local runs: a virtual environment holding exactly
# app/requirements-test.txt (the image's lock plus test tools and protocol peers), on CPython 3.12
# like the image. Built once per lock and cached outside the clone, so a fresh clone on the same
# machine reuses it; a changed lock builds a new one. Sourced, not run.

UV_VERSION=0.13.9
PYTHON_ENV_CACHE=${PYTHON_ENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpu-inference-aks}

# CPython 3.12 (the image's): python3.12 on PATH, else a pyenv install of it.
find_python312() {
  local candidate
  for candidate in python3.12 "$(command -v pyenv >/dev/null && pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "error: CPython 3.12 (the image's Python) not found; install it (e.g. pyenv install 3.12)" >&2
  return 1
}

# uv, pinned, from PyPI into its own small venv; prints its path.
ensure_uv() {
  local dir="$PYTHON_ENV_CACHE/uv-$UV_VERSION" python
  if [ ! -x "$dir/bin/uv" ]; then
    python=$(find_python312)
    echo "== installing uv $UV_VERSION into $dir" >&2
    "$python" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
  fi
  echo "$dir/bin/uv"
}

# Creates (when the lock changed) and prints the path of the test venv's python.
ensure_python_env() {
  local lock_hash dir uv python
  # The recipe below is part of the key, so changing how the venv is built rebuilds it too.
  lock_hash=$( (cat app/requirements.txt app/requirements-test.txt; declare -f ensure_python_env) | sha256sum | cut -c1-16)
  dir="$PYTHON_ENV_CACHE/venv-py312-$lock_hash"
  if [ ! -f "$dir/.complete" ]; then
    uv=$(ensure_uv)
    python=$(find_python312)
    echo "== building the Python test environment $dir from app/requirements-test.txt" >&2
    rm -rf "$dir"
    "$uv" venv --quiet --python "$python" "$dir" >&2
    # --require-hashes through the lock's hashes; sync removes anything the lock does not name.
    # --compile-bytecode because PYTHONDONTWRITEBYTECODE (set on these machines, and in the image)
    # would otherwise recompile torch on every import: 6 s per process instead of about 1 s.
    VIRTUAL_ENV="$dir" "$uv" pip sync --quiet --python "$dir/bin/python" --require-hashes --compile-bytecode \
      --index-url https://pypi.org/simple app/requirements-test.txt >&2
    touch "$dir/.complete"
  fi
  echo "$dir/bin/python"
}
