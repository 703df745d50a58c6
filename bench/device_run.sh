#!/usr/bin/env bash
# One device-machine session of issue 24's measurements, writing everything under $OUT (or /tmp/out):
# versions, the head-parser micro-benchmark, the large-JSON attack, the main bench (this server with 2
# and 1 workers and the seed-style baseline, 64/256/1,024 clients), and the same two servers with every
# batch run inline on the event loop (INLINE_BATCH_ROWS large: no device-thread hand-off), which tests
# whether the device thread is what keeps two workers from doubling one.
# Run from the folder holding app/ and bench/; PYTHONPATH and MNIST_DIGITS_DIR set by the caller.
set -u
out=${OUT:-/tmp/out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/versions.txt"
python3 -c "import sys,torch,aiohttp,orjson,numpy,uvloop,httptools;print(sys.version.split()[0],'torch',torch.__version__,'aiohttp',aiohttp.__version__,'orjson',orjson.__version__,'numpy',numpy.__version__,'uvloop',uvloop.__version__,'httptools',httptools.__version__)" | tee -a "$out/versions.txt"
date -u | tee -a "$out/versions.txt"
(cd app && python3 ../bench/head_parse.py) 2>&1 | tee "$out/head_parse.txt"
timeout "${ATTACK_TIMEOUT:-190}" python3 bench/attack.py --seconds "${ATTACK_SECONDS:-25}" 2>&1 | tee "$out/attack.txt" | tail -6
timeout 280 python3 bench/run_bench.py --no-peers \
  --servers "this server,this server (WORKERS=1),seed-style baseline" \
  --scenarios json-1x64,json-1x256,json-1x1,bin-1x64,bin-1x256,bin-1x1024 \
  --duration 5 --warmup 1 --log-dir /tmp/blogs --out "$out/bench.md" > "$out/bench.log" 2>&1
echo "bench rc=$?"
INLINE_BATCH_ROWS=100000 timeout 100 python3 bench/run_bench.py --no-peers \
  --servers "this server,this server (WORKERS=1)" --scenarios json-1x64,bin-1x64 \
  --duration 5 --warmup 1 --log-dir /tmp/blogs2 --out "$out/bench-inline.md" > "$out/bench-inline.log" 2>&1
echo "inline rc=$?"
