"""GPU assignment for concurrent training jobs (slots: nets_per_gpu jobs per GPU) and each job's share of a
shared GPU's memory, simulated without GPUs: real processes holding real lock files, a simulated device."""

import fcntl
import multiprocessing
import queue
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
import torch

from transferability import devices
from transferability.devices import GIB, claim_gpu, gpu_share, pick_device, visible_gpu_ids, wait_for_memory
from transferability.train import data_budget

from conftest import package_env
from slot_jobs import hold_a_slot

SPAWN = multiprocessing.get_context("spawn")


def _start_holder(gpu_ids, lock_dir, slots, events):
    """A training job in its own process (spawned: it imports slot_jobs, not torch), holding its slot until
    the returned event is set."""
    release = SPAWN.Event()
    job = SPAWN.Process(target=hold_a_slot, args=(gpu_ids, lock_dir, slots, release, events))
    job.start()
    return job, release


def _next(events, kind, timeout=60):
    """The next event of `kind` (logs and other kinds passed over)."""
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(deadline - time.monotonic(), 0.01))
        if event[0] == kind:
            return event


def _collect(events, seen, enough, timeout=60):
    """Events appended to `seen` (none passed over) until enough(seen)."""
    deadline = time.monotonic() + timeout
    while not enough(seen):
        seen.append(events.get(timeout=max(deadline - time.monotonic(), 0.01)))


def _count(seen, kind):
    return sum(event[0] == kind for event in seen)


def _claim_in_thread(*args, **kwargs):
    """claim_gpu in a thread, so that a test can see it block and then return."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(claim=claim_gpu(*args, **kwargs)), daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize("slots", [1, 2])
def test_concurrent_jobs_never_exceed_a_gpus_slots(tmp_path, slots):
    """Five jobs, two GPUs with `slots` slots each, each job holding its slot until released: the first
    2 x slots fill both GPUs, the others say they wait, and each released slot goes to a waiting job on the
    same GPU. Every job gets one, and by the jobs' own clocks no GPU ever has more than `slots` at once."""
    events = SPAWN.Queue()
    holders = [_start_holder(["0", "1"], tmp_path, slots, events) for _ in range(5)]
    releases = {job.pid: release for job, release in holders}
    seen = []
    _collect(events, seen, lambda seen: _count(seen, "start") + _count(seen, "log") == len(releases))
    holding = [event for event in seen if event[0] == "start"]
    assert sorted(gpu for _, gpu, _, _ in holding) == sorted(["0", "1"] * slots), seen  # both GPUs full
    while holding:  # released in the order they started
        _, gpu, _, pid = holding.pop(0)
        waiting = len(releases) - _count(seen, "start")
        ends, starts, before = _count(seen, "end") + 1, _count(seen, "start") + min(waiting, 1), len(seen)
        releases[pid].set()
        _collect(events, seen, lambda seen: _count(seen, "end") == ends and _count(seen, "start") == starts)
        taken = [event for event in seen[before:] if event[0] == "start"]
        assert [event[1] for event in taken] == [gpu] * min(waiting, 1), seen  # the freed slot, if one waits
        holding += taken
    busy = {}
    for kind, gpu, _, _ in sorted((event for event in seen if event[0] != "log"), key=lambda event: event[2]):
        busy[gpu] = busy.get(gpu, 0) + (1 if kind == "start" else -1)
        assert 0 <= busy[gpu] <= slots, f"GPU {gpu} was given to {busy[gpu]} jobs at once with {slots} slot(s)"
    for job, _ in holders:
        job.join(timeout=60)
        assert job.exitcode == 0


def test_k_jobs_share_one_gpu_at_once_and_the_next_waits_for_a_free_slot(tmp_path):
    events = SPAWN.Queue()
    holders = [_start_holder(["0"], tmp_path, 3, events) for _ in range(3)]
    for _ in holders:
        assert _next(events, "start")[1] == "0"  # all three on the one GPU, at the same time
    fourth, fourth_release = _start_holder(["0"], tmp_path, 3, events)
    waiting = _next(events, "log")[1]
    assert "busy" in waiting and "--resources gpu=" in waiting
    with pytest.raises(queue.Empty):
        _next(events, "start", timeout=1.0)  # every slot is held: the fourth waits
    holders[0][1].set()  # one job ends ...
    assert _next(events, "end")[1] == "0"
    assert _next(events, "start")[1] == "0"  # ... and the fourth takes its slot
    for job, release in [*holders, (fourth, fourth_release)]:
        release.set()
        job.join(timeout=60)
        assert job.exitcode == 0


def test_a_killed_job_frees_its_slot(tmp_path):
    """Both slots held; a third claim blocks until one holder is SIGKILLed (the OS drops its flock)."""
    events = SPAWN.Queue()
    holders = [_start_holder(["3"], tmp_path, 2, events) for _ in range(2)]
    _next(events, "start"), _next(events, "start")
    thread, result = _claim_in_thread(["3"], tmp_path, poll_s=0.05, slots=2, log=lambda _: None)
    thread.join(timeout=1.0)
    assert thread.is_alive(), "a third job got a slot of a GPU whose two slots are held"
    holders[0][0].kill()  # like a SIGKILLed job
    holders[0][0].join()
    thread.join(timeout=30)
    assert not thread.is_alive() and result["claim"][0] == 0
    result["claim"][1].close()
    holders[1][1].set()
    holders[1][0].join(timeout=60)


def test_jobs_spread_over_the_gpus_before_sharing_one(tmp_path):
    events = SPAWN.Queue()
    holder, release = _start_holder(["0", "1"], tmp_path, 4, events)
    assert _next(events, "start")[1] == "0"
    position, handle = claim_gpu(["0", "1"], tmp_path, poll_s=0.05, slots=4)
    assert position == 1, "the second job doubled up on GPU 0 while GPU 1 was idle"
    handle.close()
    release.set()
    holder.join(timeout=60)


@pytest.mark.parametrize("slots", [1, 2])
def test_a_second_claim_in_one_process_keeps_its_slot_instead_of_waiting_for_itself(tmp_path, slots):
    """One process training several nets in a row (tests, benchmarks) claims again for each."""
    first = claim_gpu(["0", "1"], tmp_path, poll_s=0.05, slots=slots)
    other = claim_gpu(["1"], tmp_path / "elsewhere", poll_s=0.05, slots=slots)  # other lock files: no reuse
    again = claim_gpu(["0", "1"], tmp_path, poll_s=0.05, slots=slots)
    assert again == first and first[1] is not other[1]
    first[1].close()
    assert claim_gpu(["0", "1"], tmp_path, poll_s=0.05, slots=slots)[0] == 0  # closed (run over): claimed afresh


@pytest.mark.parametrize("total_gib, k, share_gib", [(80, 1, 80), (80, 4, 19), (80, 8, 9), (16, 8, 1)])
def test_a_jobs_share_is_its_kth_of_the_gpu_less_its_cuda_context(total_gib, k, share_gib):
    assert gpu_share(total_gib * GIB, k) == share_gib * GIB


def test_more_jobs_than_a_gpu_holds_are_refused_with_the_key_and_the_most_that_fit():
    with pytest.raises(ValueError, match=r"resources.nets_per_gpu: 9 jobs .* 16.0 GiB.*use at most 8"):
        gpu_share(16 * GIB, 9)


def test_waiting_for_memory_blocks_until_the_device_has_the_jobs_share_free():
    free, logs = [2 * GIB], []
    thread = threading.Thread(target=wait_for_memory, args=(lambda: free[0], 9 * GIB, 0.01, logs.append, "GPU 0"))
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive()
    free[0] = 9 * GIB  # another program let go of its memory
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(logs) == 1 and "GPU 0 has 2.0 GiB free" in logs[0] and "9.0 GiB" in logs[0]


def _pick(**kwargs):
    """pick_device, failing (instead of hanging) if it still waits after 10 s."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(picked=pick_device(**kwargs)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert "picked" in result, "pick_device is still waiting (for a slot or for memory)"
    return result["picked"]


@pytest.fixture
def simulated_gpu(monkeypatch, tmp_path):
    """One 80 GiB CUDA device as PyTorch would report it; what the job sets on it is recorded."""
    gpu = SimpleNamespace(total=80 * GIB, free=[70 * GIB], reserved=0, fractions=[], free_calls=0, current=[])

    def mem_get_info(device):
        gpu.free_calls += 1
        return (gpu.free[min(gpu.free_calls, len(gpu.free)) - 1], gpu.total)

    monkeypatch.setattr(devices, "DEFAULT_LOCK_DIR", tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    monkeypatch.setattr("torch.cuda.get_device_properties", lambda device: SimpleNamespace(total_memory=gpu.total))
    monkeypatch.setattr("torch.cuda.mem_get_info", mem_get_info)
    monkeypatch.setattr("torch.cuda.memory_reserved", lambda device: gpu.reserved)
    monkeypatch.setattr("torch.cuda.set_per_process_memory_fraction",
                        lambda fraction, device: gpu.fractions.append((fraction, str(device))))
    monkeypatch.setattr("torch.cuda.set_device", lambda device: gpu.current.append(str(device)))
    return gpu


def test_a_job_on_the_second_gpu_makes_it_the_current_device(simulated_gpu, monkeypatch, tmp_path):
    """Streams and CUDA graphs (train.cuda_graphs) are made on the current device: a job whose tensors are
    on cuda:1 while cuda:0 stays current would capture an empty graph on GPU 0 and replay nothing."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,7")
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    with open(tmp_path / "gpu3.slot0.lock", "w") as other_job:  # another job holds the first GPU
        fcntl.flock(other_job, fcntl.LOCK_EX | fcntl.LOCK_NB)
        device, lock = _pick(preference="cuda", log=lambda _: None, nets_per_gpu=1, poll_s=0.01)
    assert str(device) == "cuda:1" and simulated_gpu.current == ["cuda:1"]
    lock.close()


def test_a_job_on_a_shared_gpu_gets_its_share_and_waits_for_it_to_be_free(simulated_gpu, tmp_path):
    simulated_gpu.free = [5 * GIB, 5 * GIB, 60 * GIB]  # a foreign program holds most of it, then ends
    logs = []
    device, handle = _pick(preference="auto", log=logs.append, nets_per_gpu=4, poll_s=0.01)
    assert str(device) == "cuda:0" and handle.name == str(tmp_path / "gpu7.slot0.lock")
    assert simulated_gpu.fractions == [(19 / 80, "cuda:0")]  # PyTorch's allocator held to 19 of 80 GiB
    assert sum("shared by up to 4 jobs" in line for line in logs) == 1
    assert sum("waiting until" in line for line in logs) == 1 and simulated_gpu.free_calls == 3
    handle.close()


def test_a_second_net_in_one_process_counts_its_own_cached_memory_as_free(simulated_gpu):
    simulated_gpu.free, simulated_gpu.reserved = [5 * GIB], 15 * GIB  # held by this process's allocator
    logs = []
    device, handle = _pick(preference="auto", log=logs.append, nets_per_gpu=4, poll_s=0.01)
    assert not any("waiting" in line for line in logs)
    handle.close()


def test_a_job_alone_on_its_gpu_gets_all_of_it_without_a_memory_check(simulated_gpu):
    simulated_gpu.free = [1 * GIB]
    device, handle = _pick(preference="cuda", log=lambda _: None, nets_per_gpu=1, poll_s=0.01)
    assert simulated_gpu.fractions == [(1.0, "cuda:0")] and simulated_gpu.free_calls == 0
    handle.close()


def test_too_many_jobs_per_gpu_stop_the_job_with_one_clear_error(simulated_gpu):
    simulated_gpu.total = 16 * GIB
    with pytest.raises(ValueError, match="resources.nets_per_gpu"):
        pick_device("auto", log=lambda _: None, nets_per_gpu=9)


def test_a_job_on_a_shared_gpu_keeps_only_half_of_its_share_of_data_on_it(monkeypatch):
    monkeypatch.setattr("torch.cuda.get_device_properties", lambda device: SimpleNamespace(total_memory=80 * GIB))
    monkeypatch.setattr("torch.cuda.get_per_process_memory_fraction", lambda device: 0.25)
    assert data_budget(torch.device("cuda", 0)) == 0.5 * 20 * GIB


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
    device, lock = pick_device("auto", nets_per_gpu=4)
    assert (str(device), lock) == ("cuda:0", None)


def test_a_slot_held_by_the_test_process_leaves_the_training_jobs_it_starts_free_to_claim(tmp_path):
    """On a GPU machine a net trained inside the test process keeps its slot until garbage collection (a Run
    is a reference cycle), after its test is over; a `python -m transferability train` child (the
    kill-and-resume test, Snakemake's jobs) claiming from the same folder would wait for it forever."""
    position, held = claim_gpu(["0"])  # where this process's own nets claim theirs
    claim = "from transferability.devices import claim_gpu; claim_gpu(['0'], poll_s=0.05); print('claimed')"
    try:
        child = subprocess.run([sys.executable, "-c", claim], env=package_env(), capture_output=True, text=True,
                               timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("a training job started by the tests waits for a GPU slot the test process holds")
    finally:
        held.close()
    assert child.returncode == 0 and child.stdout.strip() == "claimed", child.stderr
