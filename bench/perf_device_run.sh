#!/usr/bin/env bash
# One device-machine call for the event loop's cost per request (issue 24, branch perf): this checkout
# against another app/ (main's, or any earlier commit) side by side, writing everything under $OUT.
#   1. bench/loop_cost.py: the loop thread's CPU microseconds per one-row request (JSON /score and v2
#      binary) at 64 and 1,024 closed-loop clients, no sockets, no model: on the device machine's quiet
#      cores this is the cleanest before/after of the server's own code.
#   2. bench/run_bench.py: the real servers pinned to the same 2 cores, the load generator on the others,
#      this server with 2 and 1 workers, the compared app with 2, and the seed-style baseline.
# Run from the folder holding app/ and bench/, with the compared app at $COMPARE_APP (default
# compare/app; make it with `mkdir -p compare && git archive main app | tar -x -C compare` before the
# call, so it travels with the working tree) and PYTHONPATH/MNIST_DIGITS_DIR set as for device_run.sh.
set -u
out=${OUT:-/tmp/out}
compare=${COMPARE_APP:-compare/app}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/versions.txt"
python3 -c "import sys,torch,aiohttp,orjson,numpy,uvloop;print(sys.version.split()[0],'torch',torch.__version__,'aiohttp',aiohttp.__version__,'orjson',orjson.__version__,'numpy',numpy.__version__,'uvloop',uvloop.__version__)" | tee -a "$out/versions.txt"
date -u | tee -a "$out/versions.txt"
apps=(--app app)
[ -d "$compare" ] && apps+=(--app "$compare")
if [ -z "${SKIP_LOOP_COST:-}" ]; then
  # Two cores, as the servers get below (the loop thread and the device thread).
  timeout 120 taskset -c 0,1 python3 bench/loop_cost.py "${apps[@]}" --rounds 3 --requests 30000 2>&1 | tee "$out/loop_cost.txt"
  timeout 90 taskset -c 0,1 python3 bench/loop_cost.py "${apps[@]}" --rounds 3 --requests 30000 --clients 1024 \
    --scenario bin-1 2>&1 | tee "$out/loop_cost_1024.txt"
fi
compare_args=()
servers="this server,this server (WORKERS=1),seed-style baseline"
if [ -d "$compare" ]; then
  compare_args=(--compare-app "$compare" --compare-label main)
  servers="this server,this server at main,this server (WORKERS=1),seed-style baseline"
fi
# SKIP_LOOP_COST=1 REPEAT=3 SERVERS=... for the medians of three in a call of its own (about 400 s for
# three servers): one round of four servers and six scenarios takes about three minutes.
servers=${SERVERS:-$servers}
timeout "${BENCH_TIMEOUT:-380}" python3 bench/run_bench.py --no-peers --servers "$servers" \
  --scenarios json-1x64,json-1x256,json-1x1,bin-1x64,bin-1x256,bin-1x1024 --repeat "${REPEAT:-1}" \
  --duration 5 --warmup 1 "${compare_args[@]}" --log-dir /tmp/blogs --out "$out/bench.md" > "$out/bench.log" 2>&1
echo "bench rc=$?"
tail -40 "$out/bench.md" 2>/dev/null
