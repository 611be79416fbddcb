"""The workflow on a real (single-node) Slurm: tests/slurm/cluster.sh starts it, `make test` calls that.

Each test runs Snakemake with the test profile tests/slurm/profile (the user profile profiles/slurm,
minus the GPU request, with fast status polling)."""

import os
import shutil
import subprocess
import time

import pandas as pd
import pytest

from conftest import ROOT, SNAKEMAKE, run_snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
PROFILE = ROOT / "tests/slurm/profile"
TIMING = ["wall_s", "images_per_s"]
LONG_TRAIN = "train={'epochs': 30, 'batch_size': 32, 'lr': 0.02, 'lr_step_epochs': 0}"


def slurm_is_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return states.returncode == 0 and any(s.startswith(("idle", "mix", "alloc")) for s in states.stdout.split())


@pytest.fixture(scope="module", autouse=True)
def cluster():
    if not slurm_is_up():
        if os.geteuid() != 0:
            pytest.skip("no Slurm running, and starting one (tests/slurm/cluster.sh) needs root")
        subprocess.run(["bash", str(ROOT / "tests/slurm/cluster.sh"), "start"], check=True)


def slurm_snakemake(workdir, *args, **kwargs):
    return run_snakemake(workdir, "--workflow-profile", str(PROFILE), *args, **kwargs)


def test_smoke_dag_through_slurm_gives_the_local_table(finished_run, tmp_path):
    started = time.monotonic()
    # The 30 short training jobs share one Slurm submission (each submission costs seconds here);
    # --cores and --resources bound what the group job asks for: all of one node.
    slurm_snakemake(tmp_path, "--groups", "train_net=training", "--group-components", "training=30",
                    "--cores", "4", "--resources", "mem_mb=16000")
    print(f"smoke DAG through Slurm (training grouped): {time.monotonic() - started:.1f} s")
    assert list((tmp_path / ".snakemake/slurm_logs").rglob("*.log")), "no job went through Slurm"
    ours = pd.read_csv(tmp_path / "results/tables/nets.csv").drop(columns=TIMING)
    local = pd.read_csv(finished_run / "results/tables/nets.csv").drop(columns=TIMING)
    pd.testing.assert_frame_equal(ours, local)




def _interrupt_training(tmp_path, action: list[str]) -> str:
    """Train baseB through Slurm, interrupt its job with `action` once a checkpoint exists, and let
    Snakemake finish; returns the net's log."""
    target = "results/nets/random0/seed0/baseB/metrics.json"
    command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
               str(ROOT / "tests/smoke.yaml"), "--workflow-profile", str(PROFILE), target, "--config", LONG_TRAIN]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    checkpoint = tmp_path / "results/checkpoints/random0/seed0/baseB/last.pt"
    deadline = time.monotonic() + 180
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "the training job never checkpointed"
    jobs = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], capture_output=True, text=True).stdout.split()
    assert len(jobs) == 1, f"expected one running Slurm job, got {jobs}"
    subprocess.run([*action, jobs[0]], check=True)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    assert (tmp_path / target).exists()
    return (tmp_path / "logs/train_net/random0/seed0/baseB.log").read_text()


def test_cancelled_job_is_retried_and_resumes_from_its_checkpoint(tmp_path):
    log = _interrupt_training(tmp_path, ["scancel"])
    assert "resuming from checkpoint: epoch " in log
    assert pd.read_json(tmp_path / "results/nets/random0/seed0/baseB/metrics.json", typ="series")["epochs"] == 30


def test_preempted_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path):
    log = _interrupt_training(tmp_path, ["scontrol", "requeue"])
    assert "resuming from checkpoint: epoch " in log
