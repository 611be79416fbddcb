#!/usr/bin/env python
"""A whole grid of small nets on one GPU with k = 1, 2, 4, 8 nets per GPU: the real Snakemake DAG, timed.

    .venv/bin/python benchmarks/grid.py [--k 1 2 4 8] [--epochs 1] [--directions AB] [--out benchmarks/out]

The grid is config/cifar10.yaml's (the small net widened to 64-128-192-192-128 convs and 512-512 fc, batch
128, every treatment) for one split (random0) and seed, on generated CIFAR-shaped images (10 classes of
5,000 training and 1,000 validation 32 px RGB images: the CIFAR files are not needed), `--epochs` epochs
per net. For each k it runs `snakemake --resources gpu=k` with `resources.nets_per_gpu: k` on a copy of one
prepared data cache and split, and records the DAG's wall time, how many training jobs were in flight on
average (sum of their wall times / the DAG's), and the GPU's utilisation and memory sampled by nvidia-smi.
speed.py runs it as its `grid` section (`make bench-gpu`); alone it writes grid.csv and grid.json.
Without a GPU it skips with one line, unless --allow-cpu (the tests: `gpu` still limits the jobs at once).
"""

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from harness import ROOT, ROWS, note, record

PRESET = ROOT / "config/cifar10.yaml"
K_VALUES = (1, 2, 4, 8)
RUN = "results/config"  # the run of the config.yaml written into each work folder (layout.py)
TARGET = f"{RUN}/checkpoints_removed.txt"  # the job that needs every net: training only, no tables or figures


def grid_config(epochs: int = 1, directions=("AB",), layers=None, treatments=None, train_per_class: int = 5000,
                val_per_class: int = 1000, image_size: int = 32, channels: int = 3) -> dict:
    """config/cifar10.yaml for one random split and one seed on generated CIFAR-shaped images."""
    cfg = yaml.safe_load(PRESET.read_text())
    cfg["dataset"] = {"kind": "synthetic", "synthetic": {
        "classes": 10, "train_per_class": train_per_class, "val_per_class": val_per_class,
        "image_size": image_size, "channels": channels, "seed": 0}}
    cfg["splits"] = {"random": [0], "explicit": {}}
    cfg["seeds"], cfg["directions"] = [0], list(directions)
    if layers:
        cfg["layers"] = list(layers)
    if treatments:
        cfg["treatments"] = list(treatments)
    cfg["model"]["input_size"] = image_size
    cfg["train"]["epochs"] = epochs
    return cfg


def snakemake_command() -> str | None:
    """The snakemake next to this Python (a venv's), else on PATH; None where there is none."""
    beside = Path(sys.executable).with_name("snakemake")
    return str(beside) if beside.exists() else shutil.which("snakemake")


def parse_nvidia_smi(text: str) -> dict | None:
    """Mean and peak utilisation (0-1) and peak memory (MiB) of `nvidia-smi --query-gpu=utilization.gpu,
    memory.used --format=csv,noheader,nounits` lines; None without a readable sample."""
    samples = []
    for line in text.splitlines():
        try:
            util, memory = (float(v) for v in line.split(","))
        except ValueError:  # "[N/A]", a warning, a torn last line
            continue
        samples.append((util / 100, memory))
    if not samples:
        return None
    return {"samples": len(samples), "util_mean": statistics.fmean(u for u, _ in samples),
            "util_max": max(u for u, _ in samples), "memory_max_mib": max(m for _, m in samples)}


class GpuSampler:
    """nvidia-smi sampling one GPU every `interval_ms` while the block runs; `result` is parse_nvidia_smi's
    (None where nvidia-smi is missing or reads nothing)."""

    def __init__(self, gpu: str = "0", interval_ms: int = 250):
        self.cmd = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                    "-i", gpu, "-lms", str(interval_ms)]
        self.process, self.result = None, None

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self.process = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return self

    def __exit__(self, *exc):
        if self.process is not None:
            self.process.terminate()
            self.result = parse_nvidia_smi(self.process.communicate(timeout=30)[0])


def prepare_template(cfg: dict, scratch: Path, snakemake: str) -> Path:
    """One workdir with the data cache and the split built (and Snakemake's record of them), copied per k."""
    template = scratch / "grid-template"
    template.mkdir(parents=True)
    (template / "config.yaml").write_text(yaml.safe_dump(cfg))
    start = time.perf_counter()
    _snakemake(snakemake, template, f"{RUN}/splits/random0.tsv", ["--cores", "all"], template / "prepare.log")
    record("grid", "data cache + split (once)", "grid", time.perf_counter() - start, "s", "not in the rows below")
    return template


def _snakemake(snakemake: str, workdir: Path, target: str, args: list, log: Path, env=None) -> float:
    cmd = [snakemake, target, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",  # target first:
           str(workdir / "config.yaml"), *args]  # --configfile and --resources take every word after them
    note(f"grid: {' '.join(cmd)}")
    start = time.perf_counter()
    with open(log, "w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    if done.returncode:
        tail = "\n".join(log.read_text().splitlines()[-30:])  # the scratch folder goes with the exit
        raise SystemExit(f"snakemake failed (exit {done.returncode}); the end of {log.name}:\n{tail}")
    return time.perf_counter() - start


def run_grid(k: int, template: Path, scratch: Path, snakemake: str, gpu: str = "0", graphs: bool = False) -> dict:
    """The grid's training DAG with k nets per GPU (`--resources gpu=k`), on a copy of the template; `graphs`:
    with train.cuda_graphs."""
    workdir = scratch / f"grid-k{k}{'-graphs' * graphs}"
    shutil.copytree(template, workdir, copy_function=_link_or_copy)
    cfg = yaml.safe_load((template / "config.yaml").read_text())
    cfg.setdefault("resources", {})["nets_per_gpu"] = k
    cfg["train"]["cuda_graphs"] = graphs
    (workdir / "config.yaml").unlink()  # a hard link to the template's: writing through it would change both
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    # The jobs' GPU slot locks in a fresh folder ($TMPDIR/transferability-gpu-locks): a net this benchmark's
    # own process trained before may still hold a slot of the default folder until it is garbage-collected.
    (workdir / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(workdir / "tmp")}
    with GpuSampler(gpu) as sampler:
        wall = _snakemake(snakemake, workdir, TARGET, ["--cores", "all", "--resources", f"gpu={k}"],
                          workdir / "snakemake.log", env)
    job_wall = [float(next(csv.DictReader(tsv.read_text().splitlines(), delimiter="\t"))["s"])
                for tsv in (workdir / RUN / "benchmarks/train_net").rglob("*.tsv")]
    nets = len(list((workdir / RUN / "nets").rglob("metrics.json")))
    return {"k": k, "graphs": graphs, "wall_s": wall, "nets": nets, "sum_job_wall_s": sum(job_wall), "in_flight": sum(job_wall) / wall,
            "peak_in_flight": peak_in_flight((workdir / "snakemake.log").read_text()), "gpu": sampler.result}


def peak_in_flight(log: str, rule: str = "train_net") -> int:
    """The most jobs of `rule` running at once, from the order of Snakemake's start and finish lines."""
    running, peak, starting = set(), 0, False
    for line in log.splitlines():
        if re.fullmatch(rf"(local)?rule {rule}:", line.strip()):
            starting = True
        elif starting and (match := re.fullmatch(r"jobid: (\d+)", line.strip())):
            running.add(match[1])
            peak, starting = max(peak, len(running)), False
        elif match := re.fullmatch(rf"Finished jobid: (\d+) \(Rule: {rule}\)", line.strip()):
            running.discard(match[1])
    return peak


def _link_or_copy(src, dst):
    """The cache is read only: hard links make the copies free where the file system allows."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def note_run(run: dict) -> dict:
    """One k's line in the log (the benchmark's rows are written only at its end)."""
    gpu_use = run["gpu"]
    note(f"grid k={run['k']}{' with CUDA graphs' * run['graphs']}: {run['wall_s']:.1f} s, {run['nets']} nets, "
         f"{run['in_flight']:.2f} jobs in flight, "
         f"GPU {'%.0f%%' % (100 * gpu_use['util_mean']) if gpu_use else 'not sampled'}")
    return run


def measure_grid(scratch: Path, k_values=K_VALUES, gpu: str = "0", graphs: bool = False, **grid) -> dict:
    """Every k's row, and the speed-up of each over k = 1 (the first k), measured in this one run; `graphs`:
    also the best k with train.cuda_graphs."""
    snakemake = snakemake_command()
    if snakemake is None:
        note("grid: skipped, no snakemake here (install the workflow's requirements)")
        return {}
    cfg = grid_config(**grid)
    template = prepare_template(cfg, scratch, snakemake)
    runs = []
    for k in k_values:  # each k's line as soon as it is measured: a run cut short keeps the finished ks'
        runs.append(note_run(run_grid(k, template, scratch, snakemake, gpu)))
    base = runs[0]
    best = max(runs, key=lambda r: base["wall_s"] / r["wall_s"])
    if graphs:
        runs.append(note_run(run_grid(best["k"], template, scratch, snakemake, gpu, graphs=True)))
    what = f"{base['nets']} nets, {cfg['train']['epochs']} epoch(s) each, directions {'+'.join(cfg['directions'])}"
    summary = {}
    for run in runs:
        k, gpu_use = f"{run['k']}{' with CUDA graphs' * run['graphs']}", run["gpu"]
        record("grid", f"k={k}: DAG wall", "grid", run["wall_s"], "s", what)
        record("grid", f"k={k}: training jobs in flight (mean)", "grid", run["in_flight"], "x",
               f"sum of job wall / DAG wall; at most {run['peak_in_flight']} at once")
        if gpu_use:
            record("grid", f"k={k}: GPU utilisation (mean)", "grid", gpu_use["util_mean"], "frac",
                   f"nvidia-smi, {gpu_use['samples']} samples; peak memory {gpu_use['memory_max_mib']:.0f} MiB")
        speedup = record("grid", f"k={k}: speed-up vs k={base['k']}", "grid", base["wall_s"] / run["wall_s"], "x")
        key = f"grid_k{run['k']}{'_graphs' * run['graphs']}"
        summary[f"{key}_wall_s"], summary[f"{key}_speedup"] = run["wall_s"], speedup
        summary[f"{key}_gpu_util"] = gpu_use["util_mean"] if gpu_use else None
    if graphs:
        summary["grid_graphs_speedup"] = base["wall_s"] / runs[-1]["wall_s"]
    summary.update(grid_nets=base["nets"], grid_best_k=best["k"], grid_best_speedup=base["wall_s"] / best["wall_s"],
                   grid_runs=runs)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=int, nargs="+", default=list(K_VALUES), help="nets per GPU, the first the reference")
    p.add_argument("--epochs", type=int, default=1, help="epochs per net (default 1)")
    p.add_argument("--directions", nargs="+", default=["AB"], choices=["AB", "BA"])
    p.add_argument("--layers", type=int, nargs="+", help="the layers n (default: the preset's 1-7)")
    p.add_argument("--treatments", nargs="+", help="default: the preset's five")
    p.add_argument("--train-per-class", type=int, default=5000)
    p.add_argument("--val-per-class", type=int, default=1000)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--graphs", action="store_true", help="also the best k with train.cuda_graphs")
    p.add_argument("--allow-cpu", action="store_true", help="run without a GPU (the `gpu` resource still limits "
                                                            "the jobs at once): for the tests")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/out")
    args = p.parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("grid benchmark skipped: PyTorch sees no CUDA GPU here (nothing measured; run it on a GPU machine)")
        return 0
    import tempfile

    with tempfile.TemporaryDirectory(prefix="transferability-grid-") as tmp:
        gpu = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0]
        summary = measure_grid(Path(tmp), args.k, gpu, args.graphs, epochs=args.epochs, directions=args.directions,
                               layers=args.layers, treatments=args.treatments, train_per_class=args.train_per_class,
                               val_per_class=args.val_per_class, image_size=args.image_size)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "grid.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["section", "item", "config", "value", "unit", "detail"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(ROWS)
    (args.out / "grid.json").write_text(json.dumps({"summary": summary, "rows": ROWS}, indent=2) + "\n")
    for row in ROWS:
        print(f"{row['item']:<40} {row['value']:10.3f} {row['unit']:<5} {row['detail']}")
    if summary:
        print(f"grid_best_k={summary['grid_best_k']} grid_best_speedup={summary['grid_best_speedup']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
