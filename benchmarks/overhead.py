"""What is not training: a whole Snakemake DAG's wall time against its jobs' training time, and one
training job's fixed start-up, cold (a new Python) and warm (forked by the warm server)."""

import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import ROOT, Setup, note
from transferability.run_options import RunOptions
from transferability.config import run_name
from transferability import warm
from transferability.splits import read_split


def run_dag(config_path: Path, cores: int, scratch: Path, out: Path) -> dict:
    workdir = scratch / "dag"
    workdir.mkdir(parents=True)
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake) if snakemake.exists() else "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config_path), "--cores", str(cores)]
    note(f"DAG: {' '.join(cmd)}")
    start = time.perf_counter()
    with open(out / "dag.log", "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"snakemake failed (exit {done.returncode}); see {out / 'dag.log'}")
    job_wall, train_wall = [], []
    run = workdir / "results" / run_name([config_path])  # the run's folder (layout.py)
    for tsv in sorted((run / "benchmarks/train_net").rglob("*.tsv")):
        rel = tsv.relative_to(run / "benchmarks/train_net").with_suffix("")
        with open(tsv) as f:
            job_wall.append(float(next(csv.DictReader(f, delimiter="\t"))["s"]))
        train_wall.append(json.loads((run / "nets" / rel / "metrics.json").read_text())["wall_s"])
    total_job, total_train = sum(job_wall), sum(train_wall)
    return {"dag_wall_s": wall, "train_jobs": len(job_wall), "sum_job_wall_s": total_job,
            "sum_train_wall_s": total_train,
            "overhead_fraction": (total_job - total_train) / total_job if total_job else float("nan"),
            "per_job_overhead_s": (total_job - total_train) / len(job_wall) if job_wall else float("nan")}


def timed(cmd, env, cwd, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def startup(setup: Setup, repeats: int) -> dict:
    """A training job's fixed cost: a whole `python -m transferability train` of one tiny step (a reduced-data
    base net, one epoch) minus the training+evaluation time it reports, started cold (a new Python) and warm
    (forked by the warm server, as local Snakemake runs do); and the import time alone."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "workflow"), os.environ.get("PYTHONPATH")]))}
    env.pop(warm.SOCKET_ENV, None)
    py = sys.executable
    bare = timed([py, "-c", "pass"], env, setup.dir, repeats)
    torch_only = timed([py, "-c", "import torch"], env, setup.dir, repeats)
    imports = timed([py, "-c", "import transferability.train"], env, setup.dir, repeats)
    k = max(1, math.ceil(setup.cfg["train"]["batch_size"] / len(read_split(setup.split_file)["B"])))
    net = f"baseB_k{k}"
    cold = job_startup(setup, net, env, repeats, "cold")
    socket_path = str(setup.dir / "warm.sock")
    server = warm.start_server(socket_path, env=env)
    os.environ.pop(warm.SOCKET_ENV)
    while not os.path.exists(socket_path):  # the server is ready once it listens
        time.sleep(0.05)
    warm_up = job_startup(setup, net, {**env, warm.SOCKET_ENV: socket_path}, repeats, "warm")
    warm.stop_server(server, socket_path)
    med = statistics.median
    return {"python_s": med(bare), "torch_s": med(torch_only), "import_s": med(imports), "net": net,
            **{f"cold_{k}": v for k, v in cold.items()}, **{f"warm_{k}": v for k, v in warm_up.items()}}


def job_startup(setup: Setup, net: str, env: dict, repeats: int, tag: str) -> dict:
    """Medians of a whole one-step job's wall time, the training + evaluation time it reports, and the rest."""
    walls, inside = [], []
    for i in range(repeats):
        out = setup.dir / "startup" / f"{tag}{i}"
        cmd = [sys.executable, "-m", "transferability", "train", "--settings", json.dumps(setup.settings(net, epochs=1)),
               "--data", str(setup.dir / "data"), "--split", str(setup.split_file), "--out-dir", str(out),
               "--checkpoint-dir", str(out / "checkpoints"), "--threads", str(setup.threads),
               "--run-options", RunOptions(device=setup.device.type).to_json()]
        walls += timed(cmd, env, setup.dir, 1)
        inside.append(json.loads((out / "metrics.json").read_text())["wall_s"])
    med = statistics.median
    return {"job_wall_s": med(walls), "job_train_eval_s": med(inside),
            "job_startup_s": med([w - t for w, t in zip(walls, inside)])}
