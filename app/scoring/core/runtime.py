"""The interpreter settings a serving process runs with (scoring/__main__.py sets them; the benchmarks
that time the server's own code, bench/loop_cost.py, set them the same way).

- The GIL switch interval: the event loop (reading bodies) and the device thread (decoding, scoring)
  share the GIL. With the default 5 ms the device thread waits whole intervals for it under load;
  0.5 ms measured 4.73x -> 5.71x the baseline's rows/s for JSON at 64 clients on the H100
  (bench/RESULTS.md, 2026-11-25).
- The cyclic garbage collector: with CPython's default thresholds (700, 10, 10) a one-row request
  costs a young-generation collection every ~33 requests (measured: 1,504 collections of generation
  0, 137 of 1 and 11 full ones over 50,000 one-row binary requests at 64 clients), and each one walks
  every object of every request in flight, so the cost per request grows with the clients: 17 % of the
  event loop's CPU per request at 64 clients, 24 % at 1,024 (bench/loop_cost.py, December 2026). A
  answered request's objects are freed by reference counting (a run with the collector off ends with
  none of them in gc.garbage; the error paths that raised an exception their own frame still held --
  a cycle that kept a refused body alive until the next collection -- were fixed), so the collector is
  made to run about 14 times less often: a young generation of 10,000 objects (50,000 measured a few
  per cent cheaper at 1,024 clients, but a cycle some rare path still makes, with the body its frames
  hold, would wait five times longer).
- After start-up (imports, torch, the model) every object alive is moved out of the collector's reach
  (`gc.freeze`): they live as long as the process, and a full collection then walks only what serving
  created instead of the whole of torch.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.0005
# Young generation: collected after this many more container objects were allocated than freed; the
# older generations after 20 and 100 collections of the one below them.
GC_THRESHOLDS = (10_000, 20, 100)


def tune_for_serving() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_startup_objects() -> None:
    """Once the model is loaded: the objects alive now are never collected again (nor walked)."""
    gc.collect()
    gc.freeze()
