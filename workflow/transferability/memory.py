"""Host-memory settings for a training process."""

import ctypes
import ctypes.util

# mallopt() parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Make glibc keep freed blocks of up to `mmap_threshold` bytes for reuse. Returns whether it took.

    A training step frees and allocates the same multi-megabyte activation buffers on every iteration.
    With glibc's defaults many of them can get a fresh mmap each time, whose pages the kernel faults in
    and zeroes again (a fifth of a small net's CPU step in a fresh process), unless some earlier large
    free happened to raise glibc's dynamic threshold. Other C libraries are left alone."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
