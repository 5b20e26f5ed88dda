"""Process tuning for a long-running node.

asyncio's selector transport reads into a fresh 256 KiB buffer on every ``recv``. That is
above glibc's initial mmap threshold (128 KiB), so a fresh process pays an mmap and a
munmap per socket read until glibc's dynamic threshold adapts (measured: 1.47x the CPU per
FastAGI session). Fixing the threshold at 1 MiB from the start avoids it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["M_MMAP_THRESHOLD", "raise_mmap_threshold"]

M_MMAP_THRESHOLD = -3  # glibc malloc.h
_THRESHOLD = 1 << 20


def raise_mmap_threshold(threshold: int = _THRESHOLD) -> bool:
    """Set glibc's mmap threshold; False where there is no glibc or it is turned off.

    ``CALLGUARD_MALLOC_TUNING=off`` disables it (used by the benchmark to measure both).
    """
    if os.environ.get("CALLGUARD_MALLOC_TUNING", "on") == "off":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
