"""GPU assignment for concurrent training jobs, simulated without GPUs."""

import multiprocessing
import time

import pytest

from transferability.devices import claim_gpu, pick_device, visible_gpu_ids


def _hold_a_gpu(gpu_ids, lock_dir, hold_s, log_queue):
    position, handle = claim_gpu(gpu_ids, lock_dir, poll_s=0.05, log=lambda _: None)
    log_queue.put(("start", gpu_ids[position], time.monotonic()))
    time.sleep(hold_s)
    log_queue.put(("end", gpu_ids[position], time.monotonic()))
    handle.close()


def test_concurrent_jobs_never_share_a_gpu(tmp_path):
    """Five jobs, two GPUs: at most one job per GPU at any moment, and every job gets one."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    jobs = [context.Process(target=_hold_a_gpu, args=(["0", "1"], tmp_path, 0.4, events)) for _ in range(5)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
        assert job.exitcode == 0
    log = sorted((events.get() for _ in range(10)), key=lambda e: e[2])
    busy = {}
    for kind, gpu, _ in log:
        busy[gpu] = busy.get(gpu, 0) + (1 if kind == "start" else -1)
        assert busy[gpu] in (0, 1), f"GPU {gpu} was given to two jobs at once"
    assert {gpu for _, gpu, _ in log} == {"0", "1"}


def test_a_dead_job_frees_its_gpu(tmp_path):
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    holder = context.Process(target=_hold_a_gpu, args=(["3"], tmp_path, 30, events))
    holder.start()
    events.get(timeout=30)
    holder.kill()  # like a SIGKILLed job: the OS releases its lock
    holder.join()
    position, handle = claim_gpu(["3"], tmp_path, poll_s=0.05)
    assert position == 0
    handle.close()


def test_a_second_claim_in_one_process_keeps_its_gpu_instead_of_waiting_for_itself(tmp_path):
    first = claim_gpu(["0", "1"], tmp_path, poll_s=0.05)
    other = claim_gpu(["1"], tmp_path / "elsewhere", poll_s=0.05)  # other lock files: no reuse
    again = claim_gpu(["0", "1"], tmp_path, poll_s=0.05)
    assert again == first and first[1] is not other[1]
    first[1].close()
    assert claim_gpu(["0", "1"], tmp_path, poll_s=0.05)[0] == 0  # closed (run over): claimed afresh


@pytest.mark.parametrize("visible, count, expected", [
    (None, 2, ["0", "1"]), ("2,5", 2, ["2", "5"]), ("GPU-aa,GPU-bb", 1, ["GPU-aa"]), ("", 1, ["0"]),
])
def test_lock_names_follow_cuda_visible_devices(monkeypatch, visible, count, expected):
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert visible_gpu_ids(count) == expected


def test_without_a_gpu_auto_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert str(pick_device("auto")[0]) == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA device"):
        pick_device("cuda")


def test_inside_slurm_the_schedulers_gpu_is_used_without_locks(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    device, lock = pick_device("auto")
    assert (str(device), lock) == ("cuda:0", None)
