"""Which device a training job runs on.

Snakemake counts GPUs (`--resources gpu=N`) but never says which one a job should use, so a job
claims a free GPU itself with an exclusive lock file per device. Inside a Slurm job the scheduler
has already narrowed CUDA_VISIBLE_DEVICES to the job's own GPUs, so no lock is needed there.
"""

import fcntl
import os
import tempfile
import time
import weakref
from pathlib import Path

import torch

DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "transferability-gpu-locks"
_claimed = weakref.WeakValueDictionary()  # lock file -> this process's open handle, while a run keeps it


def visible_gpu_ids(count: int) -> list[str]:
    """Stable names of the visible GPUs: the entries of CUDA_VISIBLE_DEVICES when set, else 0..count-1."""
    listed = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return listed[:count] if len(listed) >= count else [str(i) for i in range(count)]


def claim_gpu(gpu_ids: list[str], lock_dir=DEFAULT_LOCK_DIR, poll_s: float = 2.0, log=print):
    """Block until one of the GPUs is free; return (its position in gpu_ids, the open lock file).
    The lock is held for as long as the file stays open, and freed by the OS if the job dies."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    for position, gpu in enumerate(gpu_ids):  # a second run in one process (tests, benchmark) keeps its GPU:
        held = _claimed.get(lock_dir / f"gpu{gpu}.lock")  # flock would make it wait for itself
        if held is not None and not held.closed:
            return position, held
    waited = False
    while True:
        for position, gpu in enumerate(gpu_ids):
            handle = open(lock_dir / f"gpu{gpu}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                _claimed[lock_dir / f"gpu{gpu}.lock"] = handle
                return position, handle
            except BlockingIOError:
                handle.close()
        if not waited:
            log(f"all {len(gpu_ids)} GPUs are busy; waiting for one (run with --resources gpu=N to avoid this)")
            waited = True
        time.sleep(poll_s)


def pick_device(preference: str = "auto", log=print):
    """(torch.device, lock handle or None) for `preference` in auto | cpu | cuda."""
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu"), None
    if not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but PyTorch sees no CUDA device")
    if "SLURM_JOB_ID" in os.environ:
        return torch.device("cuda", 0), None
    position, handle = claim_gpu(visible_gpu_ids(torch.cuda.device_count()), log=log)
    return torch.device("cuda", position), handle
