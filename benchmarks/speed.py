#!/usr/bin/env python
"""Training-speed benchmark: our training path against a plain PyTorch loop, on one machine, in one run.

    .venv/bin/python benchmarks/speed.py [--config config.yaml] [--quick] [--dag quick|full|none] [--out benchmarks/out]

Measures (see benchmarks/README.md):
  1. training images/s of a plain PyTorch loop (PIL images, per-sample torchvision transforms, DataLoader
     with num_workers 0 and 1) and of ours (the real `transferability.train.train()`), default + smoke config;
  2. ours with the first 3, 5, 7 layers frozen (A3B, A5B, A7B) against full training of the same net (A5B+);
  3. evaluation images/s (`Run.evaluate`);
  3b. on the CPU: our step and the plain loop in fp32 and in bf16, on the CPU's own ISA and as an AVX2 CPU without
     bf16 units (benchmarks/precision.py), and which precision train.precision: auto chose on each;
  4. the Snakemake DAG's wall time split into training and per-job overhead, and a training job's start-up;
  5. on a GPU (or with --graphs on): the default config's step with and without CUDA graphs (train.cuda_graphs),
     alternating, and whether the graphed net has the same bits (benchmarks/graphs.py);
  6. on a GPU (or with --caffenet on): the caffenet preset at batch 256, images/s, TFLOP/s and the fraction
     of the device's bf16 peak, eager, eager with its LRN layers fused (model.lrn_fused) and (with --compile)
     under torch.compile with its compile time; and where the eager step's time and bytes go (dtype casts,
     layout-mixing ops, the profiler's top ops; benchmarks/anatomy.py);
  7. on a GPU (or with --grid on): the CIFAR-10 preset's grid for one split and seed with k = 1, 2, 4, 8 nets
     per GPU (benchmarks/grid.py): the DAG's wall time, jobs in flight and GPU utilisation per k.
speed.csv and speed.json are rewritten after each of sections 5-7, so a run stopped by a time limit keeps them.
Prints a table, writes speed.csv and speed.json (with a machine description) to --out, and ends with
    speedup_vs_plain=<x> speedup_vs_plain_native=<x> (auto: <p>) speedup_vs_plain_avx2=<x> (auto: <p>)
    frozen5_speedup=<y> overhead_fraction=<z>
(on one line; speedup_vs_plain: train() of the default config, auto's precision, over the best plain fp32 loop;
the _native and _avx2 ratios: the steady step loop in auto's precision, on each ISA, over the same loop)
"""

import argparse
import csv
import gc
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from anatomy import measure_anatomy
from caffenet import bf16_peak_tflops, measure_caffenet
from graphs import measure_graphs
from grid import K_VALUES, measure_grid
from harness import ROOT, ROWS, SMOKE, Setup, build_run, load_config, note, record
from transferability.io import atomic_path
from ours import checkpoint_overhead, eval_rate, measure_ours
from overhead import run_dag, startup
from plain_loop import plain_rate_in_fresh_process
from precision import ISAS, measure_precisions

FROZEN = (3, 5, 7)


def machine(device, threads: int) -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torchvision  # the plain loop's transforms; a GPU image may lack it (the GPU sections do not use it)
        vision = torchvision.__version__
    except ImportError:
        vision = None
    info = {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "torch": torch.__version__, "torchvision": vision, "threads": threads,
            "device": str(device), "python": platform.python_version(), "platform": platform.platform(),
            "mkldnn": torch.backends.mkldnn.is_available(), "load_average_start": os.getloadavg(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_outputs(out: Path, info: dict, summary: dict, args) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # atomically: rewritten after each GPU section, a time limit may stop the run at any moment
    with atomic_path(out / "speed.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, ["section", "item", "config", "value", "unit", "detail"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(ROWS)
    def strict(value):  # strict JSON: NaN (e.g. no DAG run) becomes null
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: strict(v) for k, v in value.items()}
        return [strict(v) for v in value] if isinstance(value, (list, tuple)) else value
    with atomic_path(out / "speed.json") as tmp:
        tmp.write_text(json.dumps(strict({"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                                          "summary": summary, "rows": ROWS}), indent=2) + "\n")


def print_table() -> None:
    width = max(len(r["item"]) for r in ROWS)
    print(f"{'section':<8} {'item':<{width}} {'config':<8} {'value':>10} {'unit':<6} detail")
    for r in ROWS:
        v = r["value"]
        value = f"{v:10.3f}" if r["unit"] in ("s", "x", "frac", "TFLOP/s") else f"{v:10.0f}"
        print(f"{r['section']:<8} {r['item']:<{width}} {r['config']:<8} {value} {r['unit']:<6} {r['detail']}")


def compare_with_plain_and_frozen(default: Setup, smoke: Setup, seconds: float, summary: dict) -> None:
    """Sections 1-3: the plain loop against ours, evaluation, checkpoint cost, frozen prefixes."""
    # 1. plain PyTorch loop vs ours
    plain = {}
    for setup, secs in ((default, seconds), (smoke, seconds / 2)):
        for workers in (0, 1):
            rate = plain_rate_in_fresh_process(setup, workers, secs)
            plain[setup.name, workers] = record("plain", f"plain PyTorch, num_workers={workers}", setup.name,
                                                rate, "img/s", f"batch {setup.cfg['train']['batch_size']}, "
                                                f"{setup.threads} thread(s) + {workers} loader process(es)")
            note(f"{setup.name} plain num_workers={workers}: {rate:.0f} img/s")
    ours = {}
    for setup in (default, smoke):
        ours[setup.name], job = measure_ours(setup, "baseB", seconds)
        best = max(plain[setup.name, 0], plain[setup.name, 1])
        summary[f"speedup_vs_plain_{setup.name}"] = record(
            "ours", "speedup vs best plain", setup.name, ours[setup.name] / best, "x",
            f"vs num_workers=0: {ours[setup.name] / plain[setup.name, 0]:.2f}x")
        if setup is default:
            base_weights = job.out_dir / "weights.safetensors"
            # 3. evaluation
            run = build_run(setup.job("baseB", tag="-eval"))
            rate = eval_rate(run, max(seconds / 4, 1.0))
            summary["eval_images_per_s"] = record("eval", "Run.evaluate", setup.name, rate, "img/s",
                                                  f"{len(run.val_data)} val images, batch {setup.cfg['train']['eval_batch_size']}")
            cost = checkpoint_overhead(run, ours[setup.name])
            summary["checkpoint_fraction"] = record(
                "checkpoint", "checkpoint write / epoch", setup.name, cost["fraction"], "frac",
                f"{cost['checkpoint_s'] * 1000:.0f} ms per checkpoint, epoch {cost['epoch_s']:.1f} s")
            del run
    summary["speedup_vs_plain"] = summary["speedup_vs_plain_default"]

    # 2. frozen prefixes vs full training of the same net (source weights: the baseB trained above)
    full, _ = measure_ours(default, "A5B+", seconds, base_weights, "full (A5B+)", "frozen")
    for n in FROZEN:
        rate, _ = measure_ours(default, f"A{n}B", seconds, base_weights, section="frozen")
        summary[f"frozen{n}_speedup"] = record("frozen", f"A{n}B / full", "default", rate / full, "x")


def startup_rows(default: Setup, repeats: int, summary: dict) -> None:
    """Section 4's second half: Python, torch and our imports, and a training job's start-up, cold and warm."""
    up = startup(default, repeats)
    record("startup", "python -c pass", "default", up["python_s"], "s", f"median of {repeats}")
    record("startup", "python -c 'import torch'", "default", up["torch_s"], "s", f"median of {repeats}")
    record("startup", "import transferability.train", "default", up["import_s"], "s", f"median of {repeats}")
    for kind, how in (("cold", "a new Python process"), ("warm", "forked by the warm server")):
        record("startup", f"train job ({up['net']}, 1 epoch), {kind}: wall", "default", up[f"{kind}_job_wall_s"], "s", how)
        record("startup", "  of which training + evaluation (wall_s)", "default", up[f"{kind}_job_train_eval_s"], "s")
        record("startup", f"  job start-up, {kind} (wall - wall_s)", "default", up[f"{kind}_job_startup_s"], "s",
               "imports, data selection, checkpoint and output files")
    summary.update(job_startup_s=up["cold_job_startup_s"], warm_job_startup_s=up["warm_job_startup_s"],
                   import_s=up["import_s"])


def gpu_sections(args, default: Setup, scratch: Path, seconds: float, summary: dict, save) -> None:
    """Sections 5-7, each by default on a GPU only, shortest first, each saved (`save()`) when done, so that a
    time limit hit later keeps them: CUDA graphs, caffenet, the grid with k nets per GPU."""
    def wanted(option: str) -> bool:
        return option == "on" or (option == "auto" and default.device.type == "cuda")

    # 5. the small net's step with and without CUDA graphs
    if wanted(args.graphs):
        summary.update(measure_graphs(default, seconds))
        save()

    # 6. the paper's net (by default only on a GPU: on a CPU one step at batch 256 takes seconds)
    if wanted(args.caffenet):
        peak = args.peak_tflops or bf16_peak_tflops(default.device)
        variants = [(False, False), (False, True)] + ([(True, False)] if args.compile else [])
        for compiled, lrn_fused in variants:  # eager, eager with model.lrn_fused, compiled
            result = measure_caffenet(default.device, args.caffenet_batch, seconds, peak, compiled, lrn_fused)
            prefix = f"caffenet_{'compiled_' * compiled}{'fused_lrn_' * lrn_fused}"
            summary.update({f"{prefix}{k}": v for k, v in result.items()})
            save()
        for lrn_fused in (False, True):  # where the eager step's time and bytes go (benchmarks/anatomy.py)
            try:  # a diagnosis: its failure (e.g. another torch's profiler) must not cost the grid below
                measure_anatomy(default.device, args.caffenet_batch, 3, lrn_fused)
            except Exception as error:  # noqa: BLE001
                note(f"anatomy{' (fused LRN)' * lrn_fused} failed, left out: {type(error).__name__}: {error}")
        save()

    # 7. many small nets per GPU: the longest section, last
    if wanted(args.grid):
        if default.device.type == "cuda":  # the grid's jobs wait for their share of the GPU to be free:
            gc.collect()  # free the runs above (a Run is a reference cycle) and their cached memory
            torch.cuda.empty_cache()
        gpu = (os.environ.get("CUDA_VISIBLE_DEVICES") or str(default.device.index or 0)).split(",")[0]
        summary.update(measure_grid(scratch, args.grid_k, gpu, epochs=args.grid_epochs, graphs=True))
        save()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=ROOT / "config.yaml", help="the default config (default: config.yaml)")
    p.add_argument("--quick", action="store_true", help="5 s per measurement instead of 20 (a rough run)")
    p.add_argument("--seconds", type=float, help="training seconds per measurement (default 20; 5 with --quick)")
    p.add_argument("--dag", choices=["quick", "full", "none"], default="quick",
                   help="DAG run: quick = the smoke config's DAG (default), full = --config's whole DAG "
                        "(the default one takes long), none = skip")
    p.add_argument("--cores", type=int, default=os.cpu_count(), help="snakemake --cores for the DAG run")
    p.add_argument("--caffenet", choices=["auto", "on", "off"], default="auto",
                   help="measure the caffenet preset's step, TFLOP/s and fraction of bf16 peak (auto: on a GPU)")
    p.add_argument("--caffenet-batch", type=int, default=256)
    p.add_argument("--compile", action="store_true", help="also measure caffenet under torch.compile")
    p.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, when not in the built-in table")
    p.add_argument("--grid", choices=["auto", "on", "off"], default="auto",
                   help="the CIFAR-10 preset's grid with k nets per GPU (benchmarks/grid.py; auto: on a GPU)")
    p.add_argument("--grid-k", type=int, nargs="+", default=list(K_VALUES), help="nets per GPU to compare")
    p.add_argument("--grid-epochs", type=int, default=1, help="epochs per net of the grid")
    p.add_argument("--graphs", choices=["auto", "on", "off"], default="auto",
                   help="the small net's step with and without CUDA graphs (auto: on a GPU)")
    p.add_argument("--gpu-sections", action="store_true",
                   help="only the sections a GPU is for: the grid, graphs and caffenet (sections 1-3 and start-up "
                        "skipped)")
    p.add_argument("--require-gpu", action="store_true",
                   help="measure nothing (one line, exit 0) where PyTorch sees no GPU: make bench-gpu")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/out")
    args = p.parse_args(argv)
    if args.require_gpu and not torch.cuda.is_available():
        print("bench-gpu: skipped, PyTorch sees no CUDA GPU here; nothing was measured (run it on a GPU machine)")
        return
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    repeats = 2 if args.quick else 3
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="transferability-speed-") as tmp:
        scratch = Path(tmp)
        default = Setup("default", load_config(args.config), scratch)
        info = machine(default.device, default.threads)
        summary = {}

        if not args.gpu_sections:
            compare_with_plain_and_frozen(default, Setup("smoke", load_config(SMOKE), scratch), seconds, summary)
            if default.device.type == "cpu":
                summary.update(measure_precisions(default, seconds))

        # 4. DAG and start-up
        summary["overhead_fraction"] = float("nan")
        if args.dag != "none":
            dag_config = SMOKE if args.dag == "quick" else args.config
            dag = run_dag(dag_config, args.cores, scratch, args.out)
            label = "smoke" if args.dag == "quick" else "default"
            detail = f"snakemake --cores {args.cores}, {dag['train_jobs']} training jobs"
            record("dag", "DAG wall", label, dag["dag_wall_s"], "s", detail)
            record("dag", "sum of train_net job wall (benchmark: s)", label, dag["sum_job_wall_s"], "s")
            record("dag", "sum of training wall (metrics.json wall_s)", label, dag["sum_train_wall_s"], "s")
            record("dag", "overhead_fraction", label, dag["overhead_fraction"], "frac", "(job wall - training) / job wall")
            record("dag", "per-job overhead", label, dag["per_job_overhead_s"], "s", "mean of job wall - training wall")
            summary.update({f"dag_{k}": v for k, v in dag.items()}, overhead_fraction=dag["overhead_fraction"])
        if not args.gpu_sections:
            startup_rows(default, repeats, summary)

        def save():
            write_outputs(args.out, info, summary, args)
        gpu_sections(args, default, scratch, seconds, summary, save)

    info["load_average_end"] = os.getloadavg()
    info["bench_wall_s"] = time.perf_counter() - began
    write_outputs(args.out, info, summary, args)
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} thread(s), "
          f"{info['device']}; load average {info['load_average_start'][0]:.2f} -> {info['load_average_end'][0]:.2f}; "
          f"{info['bench_wall_s']:.0f} s")
    print_table()
    print(f"wrote {args.out / 'speed.csv'} and {args.out / 'speed.json'}")
    nan = float("nan")
    if "grid_best_k" in summary:
        print(f"grid_best_k={summary['grid_best_k']} grid_best_speedup={summary['grid_best_speedup']:.2f} "
              f"({summary['grid_nets']} nets; k = {', '.join(map(str, args.grid_k))}); with CUDA graphs "
              f"{summary.get('grid_graphs_speedup', nan):.2f}")
    if "graphs_speedup" in summary:
        print(f"graphs_speedup={summary['graphs_speedup']:.2f} graphs_same_bits={summary['graphs_same_bits']}")
    nan = float("nan")
    isas = "".join(f"speedup_vs_plain_{isa}={summary[f'speedup_vs_plain_{isa}']:.2f} (auto: {summary[f'auto_{isa}']}) "
                   for isa in ISAS if f"auto_{isa}" in summary)
    print(f"speedup_vs_plain={summary.get('speedup_vs_plain', nan):.2f} {isas}"
          f"frozen5_speedup={summary.get('frozen5_speedup', nan):.2f} overhead_fraction={summary['overhead_fraction']:.3f}")


if __name__ == "__main__":
    main()
