"""Names the worker's own threads for the operating system (`top -H`, /proc/<pid>/task/<tid>/comm), so
a profile can tell the event loop, the device thread and the decode thread apart (bench/thread_cpu.py
attributes a worker's CPU time by these names). Python 3.12 names threads only for itself."""

from __future__ import annotations

import ctypes
import ctypes.util

_PR_SET_NAME = 15  # prctl(2)


def name_os_thread(name: str) -> None:
    """Sets the calling thread's kernel name (at most 15 bytes); a no-op where prctl is missing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass
