"""What a training job itself used: the wall time, CPU time and peak memory of its own process.

Snakemake's `benchmark:` files measure the process Snakemake started. Under the warm server (warm.py) that is
a thin client waiting while a forked copy of the server trains, so they show the client's ~40 MB and ~0.2 s
of CPU. So the job measures itself, from its process's start (the fork under the warm server, the exec
otherwise), and writes usage.tsv beside its metrics.json, in the columns and units of Snakemake's files.
"""

import os
import resource
import time

from .io import atomic_path

COLUMNS = ("s", "h:m:s", "max_rss", "cpu_time")


def process_age_s() -> float:
    """Seconds since this process started (its start time in /proc/self/stat, on the boot-time clock)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
    return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")


def job_usage() -> dict:
    """This process's wall time (s), peak resident memory (max_rss, MB) and CPU time (cpu_time, s: user +
    system of all its threads, and of its finished child processes such as torch.compile's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = process_age_s()
    return {"s": wall, "h:m:s": hms(wall), "max_rss": own.ru_maxrss / 1024,  # Linux counts KiB
            "cpu_time": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime}


def write_usage(path) -> dict:
    usage = job_usage()
    with atomic_path(path) as tmp:
        tmp.write_text("\t".join(COLUMNS) + "\n" + "\t".join(_cell(usage[c]) for c in COLUMNS) + "\n")
    return usage


def hms(seconds: float) -> str:
    """A duration as h:mm:ss (hours may exceed 24)."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
