"""The warm server: training jobs forked from one process that imported torch once."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import package_env as env, settings
from transferability import warm


def train_command(workdir, out, epochs=1):
    return [sys.executable, "-m", "transferability", "train", "--settings", json.dumps(settings("baseB", epochs)),
            "--data", str(workdir / "results/data"), "--split", str(workdir / "results/splits/random0.tsv"),
            "--out-dir", str(out), "--checkpoint-dir", str(out / "ckpt")]


def wait_for(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# A process reaped between opening its /proc file and reading it fails the read with ESRCH.
PROCESS_GONE = (FileNotFoundError, ProcessLookupError)


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie its (new) parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except PROCESS_GONE:
        return True


@pytest.fixture
def server(tmp_path):
    path = str(tmp_path / "warm.sock")
    process = warm.start_server(path, env=env())
    os.environ.pop(warm.SOCKET_ENV)  # the tests pass it to their jobs explicitly
    wait_for(lambda: os.path.exists(path))
    yield path
    warm.stop_server(process, path)


def test_a_job_run_by_the_server_equals_one_run_directly(workdir, tmp_path, server):
    direct = subprocess.run(train_command(workdir, tmp_path / "direct"), env=env(), capture_output=True, text=True)
    served = subprocess.run(train_command(workdir, tmp_path / "served"), env=env(**{warm.SOCKET_ENV: server}),
                            capture_output=True, text=True)
    assert direct.returncode == served.returncode == 0, served.stderr
    assert "forked from the warm server" in served.stdout and "forked" not in direct.stdout
    one, two = (load_file(str(tmp_path / d / "weights.safetensors")) for d in ("direct", "served"))
    assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_a_failing_job_reports_its_error_and_exit_status(workdir, tmp_path, server):
    command = train_command(workdir, tmp_path / "out")
    command[command.index("--data") + 1] = str(tmp_path / "missing")
    served = subprocess.run(command, env=env(**{warm.SOCKET_ENV: server}), capture_output=True, text=True)
    assert served.returncode == 1 and "missing" in served.stderr and "forked" in served.stdout


def test_killing_the_client_kills_its_job(workdir, tmp_path, server):
    log = tmp_path / "job.log"
    with open(log, "w") as out:
        client = subprocess.Popen(train_command(workdir, tmp_path / "out", epochs=500),
                                  env=env(**{warm.SOCKET_ENV: server}), stdout=out, stderr=subprocess.STDOUT)
    wait_for(lambda: "pid " in log.read_text())
    job_pid = int(log.read_text().split("pid ")[1].split(")")[0])
    assert not gone(job_pid)
    client.send_signal(signal.SIGKILL)
    client.wait()
    wait_for(lambda: gone(job_pid), seconds=10)
    assert not (tmp_path / "out/metrics.json").exists()


@pytest.mark.parametrize("where", ["no server", "inside a Slurm job"])
def test_without_a_usable_server_the_job_runs_itself(workdir, tmp_path, server, where):
    extra = {warm.SOCKET_ENV: str(tmp_path / "none.sock")} if where == "no server" else \
        {warm.SOCKET_ENV: server, "SLURM_JOB_ID": "1"}
    done = subprocess.run(train_command(workdir, tmp_path / "out"), env=env(**extra), capture_output=True, text=True)
    assert done.returncode == 0 and "forked" not in done.stdout
    assert (tmp_path / "out/metrics.json").exists()


def test_the_server_ends_with_the_process_that_started_it(tmp_path):
    path = str(tmp_path / "warm.sock")
    starter = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from transferability import warm; "
         f"print(warm.start_server({path!r}).pid, flush=True); time.sleep(600)"],
        env=env(), stdout=subprocess.PIPE, text=True)
    server_pid = int(starter.stdout.readline())
    wait_for(lambda: os.path.exists(path))
    starter.kill()
    starter.wait()
    wait_for(lambda: not os.path.exists(path), seconds=10)
    wait_for(lambda: gone(server_pid), seconds=10)


def test_a_job_under_the_server_records_its_own_time_cpu_and_memory(workdir, tmp_path, server):
    """Snakemake's benchmark file measures the thin client; the forked job's usage.tsv measures the training:
    the forked process's own CPU time (as the kernel counts it, sampled from /proc while it runs), more
    than the client's, more memory than the client's (sampled as Snakemake samples it), a wall time within
    the client's."""
    out, said = tmp_path / "out", tmp_path / "job.out"
    start = time.monotonic()
    with open(said, "w") as stdout:
        client = subprocess.Popen(train_command(workdir, out, epochs=10), env=env(**{warm.SOCKET_ENV: server}),
                                  stdout=stdout)
    client_rss, pid, job, job_cpu, sampled, written = 0.0, 0, None, 0.0, start, None
    while pid == 0:  # the client's memory, and the forked job's CPU time until it writes usage.tsv, sampled
        client_rss = max(client_rss, rss_mb(client.pid))
        job = job or forked_pid(said.read_text())
        sample = cpu_s(job) if job else 0.0
        if written is None and (out / "usage.tsv").exists():
            written = time.monotonic()
        elif sample and written is None:  # read before usage.tsv was written
            job_cpu, sampled = sample, time.monotonic()
        time.sleep(0.02)
        pid, status, client_usage = os.wait4(client.pid, os.WNOHANG)
    client_wall = time.monotonic() - start
    written = written or start + client_wall
    client.returncode = os.waitstatus_to_exitcode(status)
    assert client.returncode == 0
    client_cpu = client_usage.ru_utime + client_usage.ru_stime
    lines = (out / "usage.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["s", "h:m:s", "max_rss", "cpu_time"]
    usage = dict(zip(lines[0].split("\t"), lines[1].split("\t")))
    wall, cpu, rss = float(usage["s"]), float(usage["cpu_time"]), float(usage["max_rss"])
    training = json.loads((out / "metrics.json").read_text())["wall_s"]
    assert training <= wall <= client_wall
    # At least what the kernel counted at the last sample before usage.tsv was written (in clock ticks), at
    # most that plus what all the cores could have run from then until the file was seen; far more than the
    # client's.
    most_since = os.cpu_count() * (written - sampled)
    assert job_cpu > 0 and job_cpu - TICK_S <= cpu <= job_cpu + most_since + TICK_S, (cpu, job_cpu, most_since)
    assert cpu > 2 * client_cpu, (cpu, client_cpu)
    assert 0 < client_rss < 150 and rss > 2 * client_rss, (rss, client_rss)


TICK_S = 2 / os.sysconf("SC_CLK_TCK")  # /proc's CPU times are whole ticks: a sample may lag by up to one each


def forked_pid(job_output: str) -> int | None:
    """The pid of the server's forked copy running the job, from the line it prints first."""
    found = re.search(r"forked from the warm server \d+: pid (\d+)", job_output)
    return int(found[1]) if found else None


def cpu_s(pid: int) -> float:
    """A process's CPU time so far (user + system, /proc/<pid>/stat), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except PROCESS_GONE:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14 and 15: utime, stime


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except PROCESS_GONE:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


FORKED_JOB_MAY_USE_CUDA = """
import os, torch
from transferability.commands.warm_server import warm_up_training
warm_up_training()  # what the server does before it forks its jobs
pid = os.fork()
if pid == 0:
    os._exit(3 if torch._C._cuda_isInBadFork() else 0)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_the_servers_warm_up_leaves_its_forked_jobs_free_to_use_a_gpu():
    """A child forked from a process that touched CUDA (even torch.cuda.is_available()) cannot initialise CUDA:
    on a GPU machine every job the server forks would stop with "Cannot re-initialize CUDA in forked
    subprocess". PyTorch flags such a child also without a GPU, so the CPU checks it."""
    done = subprocess.run([sys.executable, "-c", FORKED_JOB_MAY_USE_CUDA], env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0", "the warm-up touched CUDA: the server's forked jobs could not use a GPU"
