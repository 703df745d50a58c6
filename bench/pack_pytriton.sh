#!/usr/bin/env bash
# Packs NVIDIA PyTriton (nvidia-pytriton 0.7.0, which bundles Triton server 2.51) and what it needs at run
# time into DEST/pytriton-0.7.0-cp312.tar.xz, for a GPU machine with Python 3.12 and no network (bench/
# unpack_pytriton.sh unpacks it there). Prints the packed size: it travels with the app's wheels in one
# 64 MiB carry.
#
#   bench/pack_pytriton.sh .device/pytriton      # about a minute; needs pip (any Python 3), readelf, xz
#
# What is left out, and why it is never used on the device:
# - the Python-backend stubs for Python 3.8-3.11 and 3.13, and the libpython 3.13 that only the 3.13 stub
#   links: PyTriton copies the one stub of the running interpreter (pytriton/triton.py,
#   _prepare_triton_inference_server); and any bundled library that no kept binary needs (the NEEDED
#   closure of tritonserver, the Python backend, the local cache and the 3.12 stub, read with readelf);
# - aiohttp and its dependencies (aiohappyeyeballs, aiosignal, attrs, frozenlist, multidict, propcache,
#   yarl, idna): PyTriton imports them at start-up (pytriton.client's asyncio client, measured with
#   python -X importtime) but the device has them already, the app runs on aiohttp; unpack_pytriton.sh's
#   import check fails at once where they are missing;
# - typer and what it pulls in (rich, pygments, markdown-it-py, mdurl, shellingham, annotated-doc,
#   pydantic, pydantic-core, typing-inspection, annotated-types): only pytriton/__main__.py, the
#   `pytriton` command line, imports typer. A check below fails the pack if any other kept module
#   imports one of them;
# - numpy's own test suites, console scripts and bytecode caches.
# numpy 1.26.4 stays in (PyTriton pins numpy<2): the Python-backend stub converts tensors with a pybind11
# that predates numpy 2, and with numpy 2 in the stub every answer's output tensor comes back empty
# ("output tensor shape does not match size of output", measured here with numpy 2.5.5, December 2026).
set -euo pipefail

dest=${1:?usage: bench/pack_pytriton.sh DEST}
pip_python=${PACK_PYTHON:-python3}
archive_name=pytriton-0.7.0-cp312.tar.xz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in readelf strip xz tar; do
  command -v "$tool" >/dev/null || {
    echo "pack_pytriton: $tool is needed" >&2
    exit 1
  }
done

# The device: CPython 3.12 on manylinux x86_64 (glibc 2.35 or newer, which the Triton binary needs).
platforms=()
for tag in manylinux_2_35 manylinux_2_34 manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_5 manylinux1 linux; do
  platforms+=(--platform "${tag}_x86_64")
done
platforms+=(--platform any)
target=(--only-binary=:all: "${platforms[@]}" --python-version 3.12 --implementation cp --abi cp312)

echo "== resolving nvidia-pytriton==0.7.0 for cp312 manylinux x86_64"
"$pip_python" -m pip install --quiet --dry-run --ignore-installed --target "$work/none" \
  --report "$work/report.json" "${target[@]}" nvidia-pytriton==0.7.0
left_out="aiohttp aiohappyeyeballs aiosignal attrs frozenlist multidict propcache yarl idna \
typer rich pygments markdown-it-py mdurl shellingham annotated-doc pydantic pydantic-core \
typing-inspection annotated-types"
"$pip_python" - "$work/report.json" "$left_out" >"$work/pins.txt" <<'PY'
import json
import re
import sys

report, left_out = sys.argv[1], set(sys.argv[2].split())
for item in json.load(open(report))["install"]:
    name = re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
    if name not in left_out:
        print(f"{name}=={item['metadata']['version']}")
PY
echo "packing: $(tr '\n' ' ' <"$work/pins.txt")"

echo "== downloading"
"$pip_python" -m pip download --quiet --no-deps -d "$work/wheels" "${target[@]}" -r "$work/pins.txt"
"$pip_python" -m pip install --quiet --no-deps --no-index --no-compile "${target[@]}" \
  --target "$work/pack/site" "$work"/wheels/*.whl 2>&1 | grep -v "Running pip as the 'root' user" || true

site=$work/pack/site
server=$site/pytriton/tritonserver
libs=$site/nvidia_pytriton.libs
unpacked_mb=$(du -sm "$site" | cut -f1)

echo "== stripping what the device never uses"
for stub in "$server"/python_backend_stubs/*; do
  [ "$(basename "$stub")" = 3.12 ] || rm -rf "$stub"
done
# The NEEDED closure of the binaries that stay; every other bundled library goes.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
queue=("$server/bin/tritonserver" "$server/backends/python/libtriton_python.so"
  "$server/caches/local/libtritoncache_local.so" "$server/python_backend_stubs/3.12/triton_python_backend_stub")
declare -A keep=()
while [ ${#queue[@]} -gt 0 ]; do
  file=${queue[0]}
  queue=("${queue[@]:1}")
  for lib in $(needed "$file"); do
    if [ -e "$libs/$lib" ] && [ -z "${keep[$lib]:-}" ]; then
      keep[$lib]=1
      queue+=("$libs/$lib")
    fi
  done
done
for lib in "$libs"/*; do
  [ -n "${keep[$(basename "$lib")]:-}" ] || {
    echo "  dropped $(basename "$lib") ($(du -k "$lib" | cut -f1) KiB): no kept binary needs it"
    rm -f "$lib"
  }
done
find "$site" -depth -type d \( -name __pycache__ -o -path "*/numpy/tests" -o -path "*/numpy/*/tests" \) -exec rm -rf {} +
rm -rf "$site/bin"
# Symbol tables and debug sections are for debuggers, not the loader: libtritonserver, the tritonserver
# binary, ml_dtypes and others ship with them (about 145 of their 230 MiB before, 90 after; packed 46 ->
# 39 MiB). --strip-unneeded keeps every dynamic symbol; the unpacked tree is run end to end before use.
while IFS= read -r -d '' file; do
  [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = 177ELF ] || continue
  # Read whole before grep: under pipefail an early grep -q exit would fail readelf with SIGPIPE.
  sections=$(readelf -S "$file" 2>/dev/null || true)
  if grep -qE '\.symtab|\.debug_' <<<"$sections"; then
    strip --strip-unneeded "$file"
  fi
done < <(find "$site" -type f \( -name '*.so*' -o -perm -u+x \) -print0)

# Nothing that stays may import typer's family but the `pytriton` command line, which is never run.
unused_imports=$(grep -rlE "^\s*(import|from) +(typer|rich|pygments|pydantic)\b" "$site" --include=*.py |
  grep -vE "/pytriton/__main__\.py$" || true)
if [ -n "$unused_imports" ]; then
  echo "pack_pytriton: these kept modules import a package that was left out:" >&2
  echo "$unused_imports" >&2
  exit 1
fi

mkdir -p "$dest"
echo "== compressing (xz -9)"
XZ_OPT="-9 -T0" tar -cJf "$dest/$archive_name" -C "$work/pack" site
size=$(stat -c %s "$dest/$archive_name")
echo "unpacked ${unpacked_mb} MiB before stripping, $(du -sm "$site" | cut -f1) MiB after"
echo "packed: $dest/$archive_name $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
