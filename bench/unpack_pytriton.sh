#!/usr/bin/env bash
# Device side of bench/pack_pytriton.sh: unpacks PyTriton into TARGET and makes it runnable from there.
#
#   bench/unpack_pytriton.sh ARCHIVE TARGET [PYTHON]     # PYTHON: the Python 3.12 that runs the bench
#   eval "$(bench/unpack_pytriton.sh pytriton-0.7.0-cp312.tar.xz /tmp/pytriton | grep '^export ')"
#
# Why a virtual environment and not PYTHONPATH: Triton's Python-backend stub embeds Python in isolated
# mode (PyConfig_InitIsolatedConfig), which ignores PYTHONPATH; it finds its packages through the
# interpreter that PyTriton puts first on PATH, the environment of sys.exec_prefix
# (pytriton/server/triton_server.py, get_triton_python_backend_python_env). So TARGET/venv (with the
# system's packages) gets a .pth naming TARGET/site and then every package folder PYTHON itself uses (torch
# among them), and bench/run_bench.py runs the Triton peer with TARGET/venv/bin/python3 (PYTRITON_PYTHON).
# numpy 1.26 from the pack comes first in that environment, in the peer and the stub alike (see
# pack_pytriton.sh for why the stub needs numpy < 2); every other server keeps the machine's numpy.
#
# Prints the environment to use as `export` lines; exits non-zero when something cannot load (the Triton
# binary needs glibc 2.35; the stub needs libpython3.12.so.1.0).
set -euo pipefail

archive=${1:?usage: bench/unpack_pytriton.sh ARCHIVE TARGET [PYTHON]}
target=${2:?usage: bench/unpack_pytriton.sh ARCHIVE TARGET [PYTHON]}
python=${3:-python3}

mkdir -p "$target"
target=$(cd "$target" && pwd)
tar -xJf "$archive" -C "$target"
site=$target/site
server=$site/pytriton/tritonserver
stub=$server/python_backend_stubs/3.12/triton_python_backend_stub

# Outside site-packages PyTriton takes itself for an editable install and looks for its libraries in
# pytriton/tritonserver/external_libs instead of the wheel's nvidia_pytriton.libs (pytriton/utils/distribution.py).
ln -sfn ../../nvidia_pytriton.libs "$server/external_libs"

version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != 3.12 ]; then
  echo "unpack_pytriton: $python is Python $version; the pack holds the stub for Python 3.12 only" >&2
  exit 1
fi

# libpython3.12.so.1.0: on the loader's path already, or in the interpreter's LIBDIR (added to LD_LIBRARY_PATH).
libdir=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
ld_path=${LD_LIBRARY_PATH:-}
stub_links=$(LD_LIBRARY_PATH=$ld_path ldd "$stub" 2>&1 || true)
if ! grep -q 'libpython3.12.so.1.0 => /' <<<"$stub_links"; then
  if [ -n "$libdir" ] && [ -e "$libdir/libpython3.12.so.1.0" ]; then
    ld_path=$libdir${ld_path:+:$ld_path}
  else
    echo "libpython3.12.so.1.0 is absent: Triton's Python-backend stub (PyTriton's models) cannot start." >&2
    echo "  Looked on the loader's path and in $python's LIBDIR (${libdir:-none})." >&2
    exit 1
  fi
fi
for binary in "$server/bin/tritonserver" "$stub" "$server/backends/python/libtriton_python.so"; do
  missing=$(LD_LIBRARY_PATH="$server/external_libs${ld_path:+:$ld_path}" ldd "$binary" 2>&1 | grep -E 'not found|GLIBC' || true)
  if [ -n "$missing" ]; then
    echo "unpack_pytriton: $(basename "$binary") cannot load here (Triton 2.51 needs glibc 2.35):" >&2
    echo "$missing" >&2
    exit 1
  fi
done

# The environment the peer and the stub run in.
if ! "$python" -m venv --system-site-packages --without-pip "$target/venv" 2>"$target/venv.log"; then
  # A distribution Python without its venv module: a virtual environment is only this much.
  echo "unpack_pytriton: venv failed ($(tail -1 "$target/venv.log")); writing the environment by hand" >&2
  rm -rf "$target/venv"
  mkdir -p "$target/venv/bin" "$target/venv/lib/python3.12/site-packages"
  ln -s "$("$python" -c 'import sys; print(sys.executable)')" "$target/venv/bin/python3"
  printf 'home = %s\ninclude-system-site-packages = true\nversion = %s\n' \
    "$(dirname "$("$python" -c 'import sys; print(sys.executable)')")" \
    "$("$python" -c 'import platform; print(platform.python_version())')" >"$target/venv/pyvenv.cfg"
fi
venv_site=$("$target/venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
{
  echo "$site"
  "$python" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))'
} >"$venv_site/pytriton-pack.pth"
LD_LIBRARY_PATH=$ld_path "$target/venv/bin/python3" -c '
import numpy, torch, zmq, pytriton.triton
assert numpy.__version__.startswith("1."), numpy.__version__
print("pytriton environment: numpy", numpy.__version__, "torch", torch.__version__, "zmq", zmq.__version__)
'
# PyTriton hands tensors to the stubs through /dev/shm (4 MiB a model instance to start, growing with
# the batches): a container's default 64 MiB can run short under the 1,024-row scenario.
shm_mib=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }')
echo "/dev/shm: ${shm_mib:-unknown} MiB"
echo "export PYTRITON_PYTHON=$target/venv/bin/python3"
echo "export LD_LIBRARY_PATH=$ld_path"
