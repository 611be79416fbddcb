"""A training job's GPU claim, alone in a process: test_devices spawns it without importing torch."""

import os
import time

from transferability.devices import claim_gpu


def hold_a_slot(gpu_ids, lock_dir, slots, release, events):
    """Claim a slot, report it, hold it until `release` is set, report its end: (kind, GPU, time, pid)."""
    position, handle = claim_gpu(gpu_ids, lock_dir, poll_s=0.05, slots=slots, log=lambda m: events.put(("log", m)))
    events.put(("start", gpu_ids[position], time.monotonic(), os.getpid()))
    release.wait()
    events.put(("end", gpu_ids[position], time.monotonic(), os.getpid()))
    handle.close()
