"""A training job's GPU claim, alone in a process: test_devices spawns it without importing torch."""

import time

from transferability.devices import claim_gpu


def hold_a_slot(gpu_ids, lock_dir, slots, release, events):
    """Claim a slot, report it, hold it until `release` is set (or for `release` seconds), report its end."""
    position, handle = claim_gpu(gpu_ids, lock_dir, poll_s=0.05, slots=slots, log=lambda m: events.put(("log", m)))
    events.put(("start", gpu_ids[position], time.monotonic()))
    release.wait() if hasattr(release, "wait") else time.sleep(release)
    events.put(("end", gpu_ids[position], time.monotonic()))
    handle.close()
