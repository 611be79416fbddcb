"""The workflow on a real single-node Slurm (tests/slurm/cluster.sh; `make test` starts it), with accounting
(slurmdbd + MariaDB) and without it, run with the shipped profile profiles/slurm plus only what a site adds:
a partition (`short`, not the cluster's default), the account where there is accounting, and no GPU
(`--config resources="{gpus: 0}"`).

Every way a Slurm job can end is made to happen to a training job once it has checkpointed, and each must
be noticed within BOUND_S of its end (a job gone from Slurm within GONE_BOUND_S) and end in a resumed,
finished net."""

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, package_env, run_snakemake
from snakemake_executor_plugin_slurm_watched.states import query, sacct_command

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
CLUSTER = ROOT / "tests/slurm/cluster.sh"
PROFILE = ROOT / "profiles/slurm/config.v8+.yaml"
PARTITION, ACCOUNT = "short", "transferability"  # tests/slurm/cluster.sh makes both
TIMING = ["wall_s", "images_per_s"]
# The shipped profile checks every 30 s, kind to a shared scheduler; an end is noticed within one interval
# + 10 s whatever the interval (the executor keeps it fixed), so the site copies here check every 5 s: the
# same bounds, each wait of the tests a sixth as long.
CHECK_INTERVAL_S = 5
BOUND_S = CHECK_INTERVAL_S + 10  # an end is noticed at the next check; 10 s for the check itself and logging
GONE_BOUND_S = 2 * CHECK_INTERVAL_S + 10  # a job Slurm no longer knows: two checks in a row
# Long enough that each job is still training when it is interrupted; small enough to resume quickly.
EPOCHS = 10
TRAIN = f"train={{'epochs': {EPOCHS}, 'batch_size': 32, 'lr': 0.02, 'lr_step_epochs': 0}}"
SITE_CONFIG = "resources={'gpus': 0, 'mem_mb': 1000}"  # CPU-only nodes; the synthetic nets need little memory


def slurm_accounting() -> str | None:
    """The running cluster's AccountingStorageType, or None when no Slurm answers."""
    if not shutil.which("scontrol"):
        return None
    shown = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    found = re.search(r"^AccountingStorageType\s*=\s*(\S+)", shown.stdout, re.M)
    return found.group(1) if shown.returncode == 0 and found else None


def use_cluster(accounting: bool):
    """Start (or switch) the local Slurm to accounting on/off; without root, use one that runs as wanted."""
    wanted = "accounting_storage/slurmdbd" if accounting else "accounting_storage/none"
    if os.geteuid() == 0:
        subprocess.run(["bash", str(CLUSTER), "start", *([] if accounting else ["--no-accounting"])], check=True)
    elif slurm_accounting() != wanted:
        pytest.skip(f"needs a Slurm with {wanted}; starting one (tests/slurm/cluster.sh) needs root")


@pytest.fixture  # per test: the tests switch the mode between them (and `start` is quick when it is set)
def accounting_cluster():
    use_cluster(accounting=True)


@pytest.fixture
def plain_cluster():
    use_cluster(accounting=False)


def site_profile(folder: Path, account: str | None = None) -> Path:
    """profiles/slurm copied as the README tells a site to, with its partition (and account) filled in."""
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    profile["seconds-between-status-checks"] = CHECK_INTERVAL_S
    if account:
        profile["default-resources"]["slurm_account"] = account
    folder.mkdir(parents=True)
    (folder / "config.v8+.yaml").write_text(yaml.safe_dump(profile))
    return folder


class Run:
    """Snakemake running in the background through Slurm; every output line kept with the time it came.
    The data cache and split are made locally first unless `prepare` is False (the smoke DAG's are not)."""

    def __init__(self, workdir: Path, profile: Path, *args, prepare: bool = True):
        self.workdir = workdir
        if prepare:
            config = args[args.index("--config"):]
            run_snakemake(workdir, "--cores", "2", "results/smoke/splits/random0.tsv", *config)  # and the cache
        command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
                   str(ROOT / "tests/smoke.yaml"), "--workflow-profile", str(profile), *args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env=package_env())  # finds executor slurm-watched in this checkout
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def stop(self):
        """SIGINT, as Ctrl-C: Snakemake cancels its Slurm jobs and exits."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=10)

    def _read(self):
        for line in self.process.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def first(self, pattern: str, timeout: float) -> tuple[float, re.Match]:
        """The time and match of the first output line matching `pattern`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when, line in list(self.lines):
                if found := re.search(pattern, line):
                    return when, found
            if self.process.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.5)
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.output[-4000:]}")

    def run_id(self) -> str:
        return self.first(r"SLURM run ID: (\S+)", 60)[1].group(1)

    def wait(self, timeout: float) -> str:
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.stop()
        assert self.process.returncode == 0, self.output[-6000:]
        return self.output


@pytest.fixture
def start_run():
    """Run(...) that is stopped (its Slurm jobs cancelled) at the end of the test, whatever happened."""
    runs = []
    yield lambda *args, **kwargs: runs.append(Run(*args, **kwargs)) or runs[-1]
    for run in runs:
        run.stop()


def net_target(seed: int, net: str) -> str:
    return f"results/smoke/nets/random0/seed{seed}/{net}/metrics.json"


def wait_for_checkpoint(run: Run, seed: int, net: str, timeout: float = 240):
    checkpoint = run.workdir / f"results/smoke/checkpoints/random0/seed{seed}/{net}/last.pt"
    deadline = time.monotonic() + timeout
    while not checkpoint.exists():
        assert time.monotonic() < deadline and run.process.poll() is None, f"{net} seed{seed} never checkpointed"
        time.sleep(0.2)


def slurm_jobs(run_id: str) -> list[dict]:
    """Every job of one Snakemake run that slurmctld still lists: id, comment (rule and wildcards), time
    limit in minutes, state, partition."""
    shown = subprocess.run(["squeue", "-h", "--states=all", f"--name={run_id}", "-o", "%i|%k|%l|%T|%P"],
                           capture_output=True, text=True, check=True).stdout
    jobs = []
    for line in shown.splitlines():
        job_id, comment, limit, state, partition = line.split("|")
        jobs.append({"id": job_id, "comment": comment, "minutes": limit_minutes(limit), "state": state,
                     "partition": partition})
    return jobs


def limit_minutes(limit: str) -> int:
    """squeue's time limit ([days-][hours:]minutes:seconds) in whole minutes."""
    days, _, clock = limit.rpartition("-")
    hours, minutes, seconds = ([0, 0] + [int(part) for part in clock.split(":")])[-3:]
    return int(days or 0) * 1440 + hours * 60 + minutes + (seconds > 0)


def running_job(run_id: str, seed: int, net: str) -> str:
    """The Slurm job id now training one net (the plugin's comment ends with the net's wildcards)."""
    ids = [job["id"] for job in slurm_jobs(run_id)
           if job["comment"].endswith(f"_random0_{seed}_{net}") and job["state"] == "RUNNING"]
    assert len(ids) == 1, f"expected one running job for {net} seed{seed}, got {ids}"
    return ids[0]


def training_pid(workdir: Path, seed: int, net: str) -> int:
    """The training process of one net of this test's run (its command names the net's checkpoint folder)."""
    marker = f"results/smoke/checkpoints/random0/seed{seed}/{net}"
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "transferability train" in command and marker in command and (proc / "cwd").resolve() == workdir:
                return int(proc.name)
        except (OSError, ValueError):
            continue
    raise AssertionError(f"no training process for {marker}")


def net_log(workdir: Path, seed: int, net: str) -> str:
    return (workdir / f"results/smoke/logs/train_net/random0/seed{seed}/{net}.log").read_text()


def dry_run_resources(workdir: Path, *config: str) -> dict[str, set[str]]:
    """Each rule's resources as the dry run with the shipped profile (a site's copy) shows them: rule ->
    the set of its jobs' `gpu=` values ("" where a job asks for none)."""
    command = [SNAKEMAKE, "-n", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
               str(ROOT / "tests/smoke.yaml"), "--workflow-profile", str(site_profile(workdir / "site")), *config]
    result = subprocess.run(command, capture_output=True, text=True, env=package_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    asked: dict[str, set[str]] = {}
    for rule, block in re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", result.stdout, re.M):
        gpus = re.search(r"^    resources: .*?\bgpu=(\d+)", block, re.M)
        asked.setdefault(rule, set()).add(gpus.group(1) if gpus else "")
    return asked


def test_the_gpus_a_job_asks_of_slurm_come_from_the_config_only(tmp_path):
    """The dry run of the smoke DAG with the shipped profile: training jobs ask for resources.gpus GPUs
    (default 1); a CPU-only cluster's `--config resources="{gpus: 0}"` holds (the profile sets no gpu);
    no other rule asks for a GPU."""
    default = dry_run_resources(tmp_path / "default")
    cpu_only = dry_run_resources(tmp_path / "cpu_only", "--config", "resources={'gpus': 0}")
    assert default["train_net"] == {"1"} and cpu_only["train_net"] == {"0"}
    for asked in (default, cpu_only):
        assert {"cache_dataset", "collect_results", "draw_figure"} <= set(asked)
        assert all(gpus <= {"", "0"} for rule, gpus in asked.items() if rule != "train_net"), asked


def test_sbatch_asks_for_a_gpu_only_where_the_config_says_so(plain_cluster, start_run, tmp_path):
    """The sbatch call itself: with the default resources.gpus (1) a training job is submitted with
    --gpus=1, which this GPU-less cluster refuses; with gpus: 0 it asks for none and trains."""
    profile = site_profile(tmp_path / "site")
    for gpus in (1, 0):
        config = ["--config", f"resources={{'gpus': {gpus}, 'mem_mb': 1000}}", "train={'epochs': 1}"]
        run = start_run(tmp_path, profile, net_target(0, "baseA"), "--retries", "0", "--verbose", *config,
                        prepare=gpus == 1)  # the data cache and split, locally, once
        run.process.wait(timeout=300)
        run.reader.join(timeout=10)
        calls = [call.split(" --wrap")[0] for call in re.findall(r"sbatch call: (.*)", run.output)]
        assert len(calls) == 1, run.output[-4000:]
        if gpus:
            assert "--gpus=1" in calls[0] and run.process.returncode != 0, calls
            assert "Invalid generic resource (gres) specification" in run.output
        else:
            assert "--gpu" not in calls[0] and "--gres" not in calls[0], calls
            assert run.process.returncode == 0, run.output[-4000:]


def test_smoke_dag_without_accounting_survives_a_controller_that_lost_its_jobs(plain_cluster, finished_run,
                                                                               start_run, tmp_path):
    """The smoke DAG through Slurm; as its training job is submitted, slurmctld restarts without its state:
    the job is gone (squeue does not list it, no accounting). The run must say so, retry it (and nothing
    else), and give the local run's nets. (Training, not the data job: a data job is never retried, a bad
    data set fails again.) Layers 1 and 7 only: each rule and treatment, 10 nets instead of 30 (a group
    job runs its jobs one after another: snakemake-executor-plugin-slurm issue 469)."""
    started = time.monotonic()
    # Each submission costs seconds here, each dependency level up to a status check: the short training
    # jobs share one Slurm job, the analyses' two one; --cores and --resources bound what a group asks for.
    # (The small rules are local rules: a group holding one would run all of its jobs locally.)
    groups = ["train_net=training", "measure_similarity=analysis", "train_probes=analysis"]
    run = start_run(tmp_path, site_profile(tmp_path / "site"), "--config", SITE_CONFIG, "layers=[1, 7]",
                    "--groups", *groups, "--group-components", "training=30", "analysis=2", "--cores", "4",
                    "--resources", "mem_mb=16000", prepare=False)
    training = run.first(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/group_training", 300)[1].group(1)
    subprocess.run(["bash", str(CLUSTER), "lose-state"], check=True)
    lost = time.time()
    noticed, _ = run.first(rf"Slurm job {training} gone from Slurm: squeue no longer lists it and sacct failed",
                           GONE_BOUND_S + 30)
    output = run.wait(timeout=900)
    print(f"smoke DAG through Slurm (grouped, its training job lost once): {time.monotonic() - started:.1f} s; "
          f"the gone job noticed {noticed - lost:.1f} s after slurmctld lost its state")
    assert noticed - lost <= GONE_BOUND_S
    submitted = re.findall(r"submitted with SLURM jobid \d+ \(log: \S*/slurm_logs/(\S+)/\d+\.log\)", output)
    resubmitted = {folder: submitted.count(folder) for folder in submitted if submitted.count(folder) > 1}
    assert resubmitted == {"group_training_train_net": 2}, submitted  # the lost job, and only it, twice
    ours = pd.read_csv(tmp_path / "results/smoke/tables/nets.csv").drop(columns=TIMING)
    local = pd.read_csv(finished_run / "results/smoke/tables/nets.csv").drop(columns=TIMING)
    local = local[local["net"].isin(ours["net"])].reset_index(drop=True)  # the local run trained all 30
    assert len(ours) == 10
    pd.testing.assert_frame_equal(ours, local)


def test_every_end_of_a_job_with_accounting_is_noticed_and_the_net_resumes(accounting_cluster, start_run, tmp_path):
    """Four nets train at once; once each has checkpointed, its job is cancelled, its training killed
    (FAILED), hung past a shortened time limit (TIMEOUT), or requeued (as a preempted job is)."""
    nets = {"cancelled": (0, "baseA"), "failed": (0, "baseB"), "timeout": (1, "baseA"), "requeued": (1, "baseB")}
    run = start_run(tmp_path, site_profile(tmp_path / "site", account=ACCOUNT),
              *[net_target(*net) for net in nets.values()], "--config", "seeds=[0, 1]", TRAIN, SITE_CONFIG)
    run_id = run.run_id()
    jobs, limits, ended = {}, {}, {}
    for end, (seed, net) in nets.items():
        wait_for_checkpoint(run, seed, net)
        jobs[end] = running_job(run_id, seed, net)
        if end == "cancelled":
            subprocess.run(["scancel", jobs[end]], check=True)
        elif end == "failed":
            os.kill(training_pid(tmp_path, seed, net), 9)
        elif end == "timeout":
            limits[end] = next(job["minutes"] for job in slurm_jobs(run_id) if job["id"] == jobs[end])
            subprocess.run(["scontrol", "update", f"JobId={jobs[end]}", "TimeLimit=1"], check=True)
            os.kill(training_pid(tmp_path, seed, net), 19)  # SIGSTOP: hung until Slurm kills it
        else:
            subprocess.run(["scontrol", "requeue", jobs[end]], check=True)
            release_requeued(jobs[end])
        ended[end] = time.time()

    delays = {}
    for end in ("cancelled", "failed", "timeout"):
        noticed, found = run.first(rf"Slurm job {jobs[end]} ended (\w+)", 240)
        assert found.group(1) == {"cancelled": "CANCELLED", "failed": "FAILED", "timeout": "TIMEOUT"}[end]
        if end != "cancelled":  # the job ended when Slurm killed it (not when the test shortened its limit) or
            ended[end] = slurm_end_time(jobs[end])  # when its Snakemake exited (seconds after the kill, under load)
        delays[end] = noticed - ended[end]
    retry = wait_for_running_job(run_id, *nets["timeout"])
    limits["retry"] = next(job["minutes"] for job in slurm_jobs(run_id) if job["id"] == retry)
    output = run.wait(timeout=420)
    print("noticed after (s):", {end: round(delay, 1) for end, delay in delays.items()})
    assert max(delays.values()) <= BOUND_S, delays

    assert f"Slurm job {jobs['requeued']} ended" not in output  # Slurm runs it again: not a failure
    assert "No account was given" not in output and "invalid option" not in output
    assert query(sacct_command([jobs["cancelled"]]))[0] == {jobs["cancelled"]: "CANCELLED"}  # sacct: "CANCELLED by 0"
    assert {job["partition"] for job in slurm_jobs(run_id)} == {PARTITION}
    assert limits["retry"] > limits["timeout"], limits  # a timed-out job comes back with more time
    for seed, net in nets.values():
        assert "resuming from checkpoint: epoch " in net_log(tmp_path, seed, net), (seed, net)
        assert pd.read_json(tmp_path / net_target(seed, net), typ="series")["epochs"] == EPOCHS


def release_requeued(job_id: str, timeout: float = 60):
    """Slurm holds a requeued job for 2 min (its BeginTime) before it may run again: once it is pending
    (an update while it is still completing is overwritten), let it run now."""
    deadline = time.monotonic() + timeout
    while subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True).stdout.strip() \
            != "PENDING":
        assert time.monotonic() < deadline, f"requeued job {job_id} never pending"
        time.sleep(0.2)
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)


def wait_for_running_job(run_id: str, seed: int, net: str, timeout: float = 120) -> str:
    """The Slurm job id of one net's next job, once it runs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return running_job(run_id, seed, net)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def slurm_end_time(job_id: str, timeout: float = 60) -> float:
    """When a job ended, from the accounting record (seconds since the epoch), once slurmdbd answers with it
    (sacct can fail while slurmdbd is busy, and the record of a job that just ended can lag)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "End", f"--jobs={job_id}"], capture_output=True,
                               text=True)
        ends = shown.stdout.split() if shown.returncode == 0 else []
        if ends and ends[-1] != "Unknown":
            return time.mktime(time.strptime(ends[-1], "%Y-%m-%dT%H:%M:%S"))
        assert time.monotonic() < deadline, f"no end time of job {job_id} from sacct: {shown.stderr or shown.stdout}"
        time.sleep(1)
