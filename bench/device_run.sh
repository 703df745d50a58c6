#!/usr/bin/env bash
# One device-machine call for the closing measurements of issues 22 and 24, writing under $OUT (or
# /tmp/out): the autoscaler's measures against offered load at the default 32 slots (CPU of the pod's
# 2 cores beside the in-flight requests the scaler reads), then bench/device_triton.sh (this server, the
# seed-style baseline and NVIDIA Triton through PyTriton; medians of REPEAT rounds). Run from the
# repository root with .device (the PyTriton pack and the digits) and .wt-autoscale/whl (the app's
# wheels) carried; the large-JSON attack (bench/attack.py) is left to a call of its own.
set -u
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/digits
tar -xJf .device/digits.tar.xz -C /tmp/digits
export MNIST_DIGITS_DIR=/tmp/digits/digits PYTHONUNBUFFERED=1
python3 -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall("/tmp/site") for w in sys.argv[1:]]' .wt-autoscale/whl/*.whl
export PYTHONPATH=/tmp/site
timeout "${AUTOSCALE_TIMEOUT:-120}" python3 bench/autoscale_metric.py --max-concurrent 32 \
  --out "$out/autoscale-metric-32.md" >"$out/autoscale.log" 2>&1
echo "autoscale rc=$?"
cat "$out/autoscale-metric-32.md"
SERVERS=${SERVERS:-"this server,seed-style baseline,NVIDIA Triton (PyTriton)"} \
  SCENARIOS=${SCENARIOS:-json-1x64,json-1x256,json-1x1,bin-1x64,bin-1x1024} \
  REPEAT=${REPEAT:-3} DURATION=${DURATION:-2} WARMUP=${WARMUP:-1} BENCH_TIMEOUT=${BENCH_TIMEOUT:-300} \
  bash bench/device_triton.sh 2>&1 | grep -v "resource_tracker\|warnings.warn\|^  cpu"
