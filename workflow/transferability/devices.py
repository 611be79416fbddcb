"""Which device a training job runs on, and how much of a shared GPU's memory it may use.

Snakemake counts GPU slots (`--resources gpu=S`) but never says which GPU a job should use, so a job
claims a free slot itself with an exclusive lock file per slot: `resources.nets_per_gpu` (k) slots per
GPU, so that k jobs share one GPU. Inside a Slurm job the scheduler has already narrowed
CUDA_VISIBLE_DEVICES to the job's own GPUs, so no lock is needed there.

A job that shares its GPU with k - 1 others may allocate 1/k of the GPU's memory, less room for its CUDA
context; PyTorch's allocator is told so, so a job that needs more fails in its own log (out of memory)
instead of starving its neighbours, and a job waits until the GPU has that much memory free.
"""

import fcntl
import os
import tempfile
import time
import weakref
from pathlib import Path

DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "transferability-gpu-locks"
GIB = 1 << 30
CONTEXT_BYTES = 1 * GIB  # per job, outside PyTorch's allocator: the CUDA context, cuBLAS and cuDNN handles
MIN_SHARE_BYTES = 1 * GIB  # less than this per job is refused: no net of the presets would train in it
_claimed = weakref.WeakValueDictionary()  # lock file -> this process's open handle, while a run keeps it


def visible_gpu_ids(count: int) -> list[str]:
    """Stable names of the visible GPUs: the entries of CUDA_VISIBLE_DEVICES when set, else 0..count-1."""
    listed = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return listed[:count] if len(listed) >= count else [str(i) for i in range(count)]


def _slot_files(gpu_ids: list[str], lock_dir: Path, slots: int) -> list[tuple[int, Path]]:
    """(position of the GPU in gpu_ids, lock file) of every slot, slot 0 of every GPU first: jobs spread
    over the GPUs before they double up on one."""
    return [(position, lock_dir / f"gpu{gpu}.slot{slot}.lock")
            for slot in range(slots) for position, gpu in enumerate(gpu_ids)]


def claim_gpu(gpu_ids: list[str], lock_dir=None, poll_s: float = 2.0, log=print, slots: int = 1):
    """Block until one of the `slots` slots of one of the GPUs is free; return (the GPU's position in
    gpu_ids, the open lock file). The slot is held for as long as the file stays open, and freed by the OS
    if the job dies. Lock files live in lock_dir (default DEFAULT_LOCK_DIR)."""
    lock_dir = Path(lock_dir or DEFAULT_LOCK_DIR)
    lock_dir.mkdir(parents=True, exist_ok=True)
    candidates = _slot_files(gpu_ids, lock_dir, slots)
    for position, path in candidates:  # a second run in one process (tests, benchmark) keeps its slot:
        held = _claimed.get(path)  # flock would make it wait for itself
        if held is not None and not held.closed:
            return position, held
    waited = False
    while True:
        for position, path in candidates:
            handle = open(path, "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                _claimed[path] = handle
                return position, handle
            except BlockingIOError:
                handle.close()
        if not waited:
            log(f"all {slots} slot(s) of each of the {len(gpu_ids)} GPU(s) are busy; waiting for one "
                f"(run with --resources gpu=<GPUs x resources.nets_per_gpu> to avoid this)")
            waited = True
        time.sleep(poll_s)


def gpu_share(total_bytes: int, nets_per_gpu: int) -> int:
    """Bytes one of `nets_per_gpu` jobs sharing a GPU of `total_bytes` may allocate: all of it alone,
    else its 1/k share less room for its CUDA context. Too little to train in is refused."""
    if nets_per_gpu == 1:
        return total_bytes
    share = total_bytes // nets_per_gpu - CONTEXT_BYTES
    if share < MIN_SHARE_BYTES:
        fits = max(1, total_bytes // (MIN_SHARE_BYTES + CONTEXT_BYTES))
        raise ValueError(f"resources.nets_per_gpu: {nets_per_gpu} jobs do not fit on a GPU of "
                         f"{total_bytes / GIB:.1f} GiB (each would get {max(share, 0) / GIB:.2f} GiB, at least "
                         f"{MIN_SHARE_BYTES / GIB:.0f} GiB is needed); use at most {fits}")
    return share


def wait_for_memory(free_bytes, need_bytes: int, poll_s: float = 2.0, log=print, what: str = "the GPU") -> None:
    """Block until free_bytes() >= need_bytes: memory held by a program outside the workflow (or a job
    still ending) is waited for rather than run into."""
    waited = False
    while (free := free_bytes()) < need_bytes:
        if not waited:
            log(f"{what} has {free / GIB:.1f} GiB free and this job may use {need_bytes / GIB:.1f} GiB; "
                "waiting until that much is free")
            waited = True
        time.sleep(poll_s)


def pick_device(preference: str = "auto", log=print, nets_per_gpu: int = 1, poll_s: float = 2.0):
    """(torch.device, lock handle or None) for `preference` in auto | cpu | cuda; on a GPU shared by
    `nets_per_gpu` jobs, PyTorch's allocator is limited to this job's share (gpu_share)."""
    import torch  # here, not at the top: claiming a slot is plain file locking, and starts no torch

    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu"), None
    if not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but PyTorch sees no CUDA device")
    if "SLURM_JOB_ID" in os.environ:  # the scheduler's GPU, as it is: nets_per_gpu is for local runs
        return torch.device("cuda", 0), None
    gpu_ids = visible_gpu_ids(torch.cuda.device_count())
    position, handle = claim_gpu(gpu_ids, log=log, slots=nets_per_gpu, poll_s=poll_s)
    device = torch.device("cuda", position)
    # The current device: streams, CUDA graphs (graphs.py) and their random generator are made on it.
    torch.cuda.set_device(device)
    total = torch.cuda.get_device_properties(device).total_memory
    share = gpu_share(total, nets_per_gpu)
    if nets_per_gpu > 1:
        log(f"GPU {gpu_ids[position]} is shared by up to {nets_per_gpu} jobs (resources.nets_per_gpu); this job "
            f"may allocate {share / GIB:.1f} GiB of its {total / GIB:.1f} GiB")
        # What this process's allocator already holds (an earlier run in it, e.g. a benchmark's) is its own.
        free = lambda: torch.cuda.mem_get_info(device)[0] + torch.cuda.memory_reserved(device)  # noqa: E731
        wait_for_memory(free, share, poll_s, log, f"GPU {gpu_ids[position]}")
    torch.cuda.set_per_process_memory_fraction(share / total, device)  # 1.0 alone: as PyTorch's default
    return device, handle


def usable_gpu_bytes(device) -> float:
    """The GPU memory this process may allocate on `device` (its share when the GPU is shared)."""
    import torch

    return torch.cuda.get_device_properties(device).total_memory * torch.cuda.get_per_process_memory_fraction(device)


def computes_bf16_natively(device) -> bool:
    """Whether the device has bf16 units: a CUDA GPU that supports bf16 (Ampere and newer) without emulation,
    or a CPU on which oneDNN runs bf16 kernels (AVX-512 BF16 or AMX; it honours ONEDNN_MAX_CPU_ISA). Elsewhere
    bf16 autocast is emulated: held to AVX2, this project's reference CPU trained the default net 11 times slower
    in bf16 than in fp32 (benchmarks/README.md)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def resolve_precision(requested: str, device) -> str:
    """train.precision as a job runs it: `auto` is bf16 where the device computes it natively, else fp32."""
    if requested != "auto":
        return requested
    return "bf16" if computes_bf16_natively(device) else "fp32"
