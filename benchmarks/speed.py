#!/usr/bin/env python
"""Training-speed benchmark: our training path against a plain PyTorch loop, on one machine, in one run.

    .venv/bin/python benchmarks/speed.py [--config config.yaml] [--quick] [--dag quick|full|none] [--out benchmarks/out]

Measures (see benchmarks/README.md):
  1. training images/s of a plain PyTorch loop (PIL images, per-sample torchvision transforms, DataLoader
     with num_workers 0 and 1) and of ours (the real `transferability.train.train()`), default + smoke config;
  2. ours with the first 3, 5, 7 layers frozen (A3B, A5B, A7B) against full training of the same net (A5B+);
  3. evaluation images/s (`_Run.evaluate`);
  4. the Snakemake DAG's wall time split into training and per-job overhead, and a training job's start-up;
  5. on a GPU (or with --caffenet on): the caffenet preset at batch 256, images/s, TFLOP/s and the fraction
     of the device's bf16 peak, eager and (with --compile) under torch.compile with its compile time.
Prints a table, writes speed.csv and speed.json (with a machine description) to --out, and ends with
    speedup_vs_plain=<x> frozen5_speedup=<y> overhead_fraction=<z>
"""

import argparse
import concurrent.futures
import copy
import csv
import json
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))  # the package, also where it was not pip-installed

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402

from transferability import train as T  # noqa: E402
from transferability import warm  # noqa: E402
from transferability.config import RUN_ONLY_TRAIN_KEYS, check_config, load_schema  # noqa: E402
from transferability.data import build_cache, load_cache  # noqa: E402
from transferability.devices import pick_device  # noqa: E402
from transferability.batches import HalfData  # noqa: E402
from transferability.model import architecture, build_model, forward_flops  # noqa: E402
from transferability.splits import explicit_halves, random_halves, read_class_list, read_split, write_split  # noqa: E402

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
SMOKE = ROOT / "tests/smoke.yaml"
FROZEN = (3, 5, 7)
ROWS = []  # every measurement: section, item, config, value, unit, detail


def note(message: str) -> None:
    print(f"[speed] {message}", file=sys.stderr, flush=True)


def record(section, item, config, value, unit, detail=""):
    ROWS.append({"section": section, "item": item, "config": config, "value": value, "unit": unit, "detail": detail})
    return value


# ---------------------------------------------------------------- config, data, jobs

def load_config(path: Path) -> dict:
    """The config with the schema's defaults filled in, as the workflow sees it."""
    cfg = yaml.safe_load(Path(path).read_text()) or {}
    schema = load_schema(SCHEMA)
    check_config(cfg, schema)
    _fill_defaults(cfg, schema)
    return cfg


def _fill_defaults(cfg: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in cfg and "default" in sub:
            cfg[key] = copy.deepcopy(sub["default"])
        if isinstance(cfg.get(key), dict):
            _fill_defaults(cfg[key], sub)


class Setup:
    """One config's data cache and first split, in a scratch folder, and Jobs on them."""

    def __init__(self, name: str, cfg: dict, scratch: Path):
        self.name, self.cfg, self.dir = name, cfg, scratch / name
        start = time.perf_counter()
        self.meta = build_cache(cfg["dataset"], self.dir / "data")
        record("data", "cache build", name, time.perf_counter() - start, "s",
               f"{self.meta['n_train']} + {self.meta['n_val']} images, {self.meta['channels']} x "
               f"{self.meta['image_size']} px")
        self.split_name, (half_a, half_b) = self._first_split()
        self.split_file = self.dir / "split.tsv"
        write_split(self.split_file, self.meta["classes"], half_a, half_b)
        self.device, _ = pick_device(cfg["train"]["device"], log=note)
        self.threads = cfg["train"]["threads"]

    def _first_split(self):
        classes = self.meta["classes"]
        if self.cfg["splits"]["random"]:
            seed = self.cfg["splits"]["random"][0]
            return f"random{seed}", random_halves(len(classes), seed)
        name, halves = next(iter(self.cfg["splits"]["explicit"].items()))

        def resolve(entry):
            if isinstance(entry, str):
                pkg = ROOT / "workflow/transferability" / entry
                return read_class_list(pkg if entry.startswith("paper/") else entry)
            return entry
        return name, explicit_halves(classes, resolve(halves["A"]), resolve(halves["B"]))

    def settings(self, net: str, **train) -> dict:
        """As workflow/rules/common.smk's train_settings."""
        cfg = self.cfg
        return {"dataset": cfg["dataset"]["kind"], "split": self.split_name, "seed": cfg["seeds"][0], "net": net,
                "model": architecture(cfg["model"]),
                "train": {**{k: v for k, v in cfg["train"].items() if k not in RUN_ONLY_TRAIN_KEYS}, **train},
                "augment": cfg["augment"]}

    def job(self, net: str, source=None, tag="", **train) -> T.Job:
        out = self.dir / "nets" / f"{net}{tag}"
        shutil.rmtree(out, ignore_errors=True)
        return T.Job(settings=self.settings(net, **train), data_dir=self.dir / "data", split_file=self.split_file,
                     out_dir=out, checkpoint_dir=out / "checkpoints", source_weights=source,
                     threads=self.threads, device=str(self.device))


def build_run(job: T.Job) -> "T._Run":
    """The _Run exactly as train() builds it: train.prepare(), or train() itself stopped before fit."""
    if hasattr(T, "prepare"):
        return T.prepare(job, log=lambda line: None)
    with mock.patch.object(T._Run, "fit", lambda self: self):
        return T.train(job, log=lambda line: None)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- 1. the plain PyTorch loop

class PlainFashionMNIST(torch.utils.data.Dataset):
    """What torchvision.datasets.FashionMNIST does per sample (a PIL image, then the transforms), on the
    same images: one half of the cached uint8 arrays."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        img = self.images[i]
        img = Image.fromarray(img[0], mode="L") if img.shape[0] == 1 else Image.fromarray(img.transpose(1, 2, 0))
        return self.transform(img), int(self.labels[i])


def plain_dataset(setup: Setup) -> PlainFashionMNIST:
    from torchvision import transforms

    cfg, meta = setup.cfg, setup.meta
    cache = load_cache(setup.dir / "data")
    classes = read_split(setup.split_file)["B"]
    relabel = {c: i for i, c in enumerate(classes)}
    rows = np.flatnonzero(np.isin(cache.train_labels, classes))
    size, pad = architecture(cfg["model"])["input_size"], cfg["augment"]["crop_padding"]
    steps = [transforms.RandomCrop(size, padding=pad or None)]
    if cfg["augment"]["mirror"]:
        steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), transforms.Normalize([m / 255 for m in meta["mean"]], [s / 255 for s in meta["std"]])]
    return PlainFashionMNIST(np.ascontiguousarray(cache.train_images[rows]),
                             np.array([relabel[c] for c in cache.train_labels[rows]]), transforms.Compose(steps))


def plain_rate(setup: Setup, dataset, workers: int, seconds: float, warmup: int = 5) -> float:
    """Steady-state images/s of the loop a PyTorch user writes (same net, SGD settings, threads, batch)."""
    cfg, device = setup.cfg, setup.device
    torch.set_num_threads(setup.threads)
    torch.manual_seed(0)
    n_classes = len(read_split(setup.split_file)["B"])
    model = build_model(architecture(cfg["model"]), setup.meta["channels"], n_classes).to(device)
    tc = cfg["train"]
    optimizer = torch.optim.SGD(model.parameters(), lr=tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=min(tc["batch_size"], len(dataset)), shuffle=True,
                                         num_workers=workers, drop_last=True)
    model.train()
    seen, running, start, batches = 0, 0.0, None, 0
    while True:
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
            if batches == warmup:
                _sync(device)
                start = time.perf_counter()
            elif start is not None:
                seen += len(labels)
                if time.perf_counter() - start >= seconds:
                    _sync(device)
                    return seen / (time.perf_counter() - start)


def plain_rate_in_fresh_process(setup: Setup, workers: int, seconds: float) -> float:
    """plain_rate in a new interpreter: the plain loop gets the process a user's script gets, untouched by
    what our training path sets up for itself (threads, glibc allocator settings)."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(_plain_rate_child, setup, workers, seconds).result()


def _plain_rate_child(setup: Setup, workers: int, seconds: float) -> float:
    multiprocessing.set_start_method(None, force=True)  # the platform's default for the DataLoader, not spawn
    return plain_rate(setup, plain_dataset(setup), workers, seconds)


# ---------------------------------------------------------------- ours

def steady_rate(run, seconds: float, warmup: int = 5) -> float:
    """Images/s of fit()'s inner loop (`_Run._train_step` on slices of a random permutation), after warm-up."""
    run._set_lr(0)
    batch, steps = run.batch, run.steps
    seen, step, start, done = 0, 0, None, 0
    perm = torch.randperm(len(run.train_data), generator=run.generator, device=run.device)
    while True:
        if step == steps:
            perm, step = torch.randperm(len(run.train_data), generator=run.generator, device=run.device), 0
        index = perm[step * batch:(step + 1) * batch]
        run._train_step(index, run.train_data.images[index])
        step += 1
        done += 1
        if done == warmup:
            _sync(run.device)
            start = time.perf_counter()
        elif start is not None:
            seen += batch
            if time.perf_counter() - start >= seconds:
                _sync(run.device)
                return seen / (time.perf_counter() - start)


def measure_ours(setup: Setup, net: str, seconds: float, source=None, item=None, section="ours"):
    """Steady-state rate of the step loop (for seconds/2, at most 8 s), then the real train() for about `seconds`
    (whole epochs, at least one); returns train()'s images_per_s (what metrics.json reports) and its job."""
    item = item or net
    run = build_run(setup.job(net, source, tag="-probe"))
    steady, n_train = steady_rate(run, min(seconds / 2, 8.0)), len(run.train_data)
    record(section, f"{item}: step loop (steady)", setup.name, steady, "img/s",
           f"{n_train} training images, {setup.threads} thread(s), {setup.device}")
    del run
    epochs = max(1, round(seconds * steady / n_train))
    job = setup.job(net, source, epochs=epochs)
    metrics = T.train(job, log=lambda line: None)
    rate = record(section, f"{item}: train()", setup.name, metrics["images_per_s"], "img/s",
                  f"metrics.json images_per_s, {epochs} epoch(s), {sum_train_s(job):.1f} s training")
    note(f"{setup.name} {item}: {rate:.0f} img/s (train()), {steady:.0f} img/s (steady step loop)")
    return rate, job


def sum_train_s(job: T.Job) -> float:
    with open(job.out_dir / "epochs.csv") as f:
        return sum(float(r["train_s"]) for r in csv.DictReader(f))


def checkpoint_overhead(run, steady_rate: float, repeats: int = 5) -> dict:
    """Seconds to write one checkpoint (median), as a fraction of one epoch's training time."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run._save_checkpoint()
        times.append(time.perf_counter() - start)
    epoch_s = len(run.train_data) / steady_rate
    return {"checkpoint_s": statistics.median(times), "epoch_s": epoch_s,
            "fraction": statistics.median(times) / epoch_s}


def eval_rate(run, seconds: float) -> float:
    run.evaluate()  # warm-up
    _sync(run.device)
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < seconds:
        run.evaluate()
        calls += 1
    _sync(run.device)
    return calls * len(run.val_data) / (time.perf_counter() - start)


# ---------------------------------------------------------------- 4. DAG and job start-up

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
    for tsv in sorted((workdir / "benchmarks/train_net").rglob("*.tsv")):
        rel = tsv.relative_to(workdir / "benchmarks/train_net").with_suffix("")
        with open(tsv) as f:
            job_wall.append(float(next(csv.DictReader(f, delimiter="\t"))["s"]))
        train_wall.append(json.loads((workdir / "results/nets" / rel / "metrics.json").read_text())["wall_s"])
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
               "--device", str(setup.device.type)]
        walls += timed(cmd, env, setup.dir, 1)
        inside.append(json.loads((out / "metrics.json").read_text())["wall_s"])
    med = statistics.median
    return {"job_wall_s": med(walls), "job_train_eval_s": med(inside),
            "job_startup_s": med([w - t for w, t in zip(walls, inside)])}


# ---------------------------------------------------------------- 5. the paper's CaffeNet at batch 256

# Dense bf16 tensor-core peaks (TFLOP/s, fp32 accumulation) from the vendors' data sheets; the first name
# contained in the device's name wins. --peak-tflops overrides.
BF16_PEAK_TFLOPS = [("H200", 989.4), ("H100 PCIe", 756.5), ("H100 NVL", 835.5), ("H100", 989.4),
                    ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0)]


def bf16_peak_tflops(device) -> float:
    return peak_for(torch.cuda.get_device_name(device)) if device.type == "cuda" else float("nan")


def peak_for(gpu_name: str) -> float:
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key in gpu_name), float("nan"))


def caffenet_run(device, batch: int, compile_net: bool) -> "T._Run":
    """Our training step on the caffenet preset (227 px crops of 256 px images, 1000 classes), on random
    images kept on the device: what one ImageNet base net's job runs, without the disk."""
    cfg = {"dataset": {"kind": "synthetic"}, "model": {"preset": "caffenet"}, "augment": {"crop_padding": 0},
           "train": {"batch_size": batch, "eval_batch_size": batch}}
    check_config(cfg, load_schema(SCHEMA))
    _fill_defaults(cfg, load_schema(SCHEMA))
    settings = {"dataset": "synthetic", "split": "bench", "seed": 0, "net": "baseB",
                "model": architecture(cfg["model"]), "train": cfg["train"], "augment": cfg["augment"]}
    n = 4 * batch
    images = torch.randint(0, 256, (n, 3, 256, 256), dtype=torch.uint8, device=device)
    data = HalfData(images, torch.randint(0, 1000, (n,), device=device), 1000)
    frozen, trainable = T.build_net(settings, 3, 1000)
    job = T.Job(settings=settings, data_dir=None, split_file=None, out_dir=None, checkpoint_dir=None,
                device=str(device), compile=compile_net)
    cl = torch.channels_last
    run = T._Run(job, frozen.to(device, memory_format=cl), trainable.to(device, memory_format=cl), data, data,
                 {"mean": [120.0] * 3, "std": [60.0] * 3}, device, note)
    if compile_net:
        index = torch.arange(batch, device=device)
        run._step(index, data.images[index])  # compiles; run.compile_s says how long it took
    return run


def measure_caffenet(device, batch: int, seconds: float, peak: float, compile_net: bool) -> dict:
    run = caffenet_run(device, batch, compile_net)
    rate = steady_rate(run, seconds, warmup=3)
    tflops = rate * 3 * forward_flops(run.job.settings["model"], 3, 1000) / 1e12
    label = "compiled" if compile_net else "eager"
    record("caffenet", f"caffenet {label}: step loop (steady)", "caffenet", rate, "img/s", f"batch {batch}, {device}")
    record("caffenet", f"caffenet {label}: achieved", "caffenet", tflops, "TFLOP/s",
           "3 x forward FLOPs per image (forward + backward)")
    record("caffenet", f"caffenet {label}: fraction of bf16 peak", "caffenet", tflops / peak, "frac",
           f"peak {peak} TFLOP/s")
    if compile_net:
        record("caffenet", "caffenet compiled: compile time", "caffenet", run.compile_s, "s", "first step")
    note(f"caffenet {label}: {rate:.0f} img/s, {tflops:.1f} TFLOP/s, {tflops / peak:.1%} of bf16 peak")
    return {"images_per_s": rate, "tflops": tflops, "peak_fraction": tflops / peak, "compile_s": run.compile_s}


# ---------------------------------------------------------------- machine and output

def machine(device, threads: int) -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torchvision

    info = {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "torch": torch.__version__, "torchvision": torchvision.__version__, "threads": threads,
            "device": str(device), "python": platform.python_version(), "platform": platform.platform(),
            "mkldnn": torch.backends.mkldnn.is_available(), "load_average_start": os.getloadavg(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_outputs(out: Path, info: dict, summary: dict, args) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "speed.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["section", "item", "config", "value", "unit", "detail"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(ROWS)
    def strict(value):  # strict JSON: NaN (e.g. no DAG run) becomes null
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: strict(v) for k, v in value.items()}
        return [strict(v) for v in value] if isinstance(value, (list, tuple)) else value
    (out / "speed.json").write_text(json.dumps(strict(
        {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "summary": summary, "rows": ROWS}),
        indent=2) + "\n")


def print_table() -> None:
    width = max(len(r["item"]) for r in ROWS)
    print(f"{'section':<8} {'item':<{width}} {'config':<8} {'value':>10} {'unit':<6} detail")
    for r in ROWS:
        v = r["value"]
        value = f"{v:10.3f}" if r["unit"] in ("s", "x", "frac", "TFLOP/s") else f"{v:10.0f}"
        print(f"{r['section']:<8} {r['item']:<{width}} {r['config']:<8} {value} {r['unit']:<6} {r['detail']}")


# ---------------------------------------------------------------- main

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
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/out")
    args = p.parse_args(argv)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    repeats = 2 if args.quick else 3
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="transferability-speed-") as tmp:
        scratch = Path(tmp)
        default = Setup("default", load_config(args.config), scratch)
        smoke = Setup("smoke", load_config(SMOKE), scratch)
        info = machine(default.device, default.threads)
        summary = {}

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
                summary["eval_images_per_s"] = record("eval", "_Run.evaluate", setup.name, rate, "img/s",
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

        # 5. the paper's net (by default only on a GPU: on a CPU one step at batch 256 takes seconds)
        if args.caffenet == "on" or (args.caffenet == "auto" and default.device.type == "cuda"):
            peak = args.peak_tflops or bf16_peak_tflops(default.device)
            for compiled in (False, True) if args.compile else (False,):
                result = measure_caffenet(default.device, args.caffenet_batch, seconds, peak, compiled)
                summary.update({f"caffenet_{'compiled_' * compiled}{k}": v for k, v in result.items()})

    info["load_average_end"] = os.getloadavg()
    info["bench_wall_s"] = time.perf_counter() - began
    write_outputs(args.out, info, summary, args)
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} thread(s), "
          f"{info['device']}; load average {info['load_average_start'][0]:.2f} -> {info['load_average_end'][0]:.2f}; "
          f"{info['bench_wall_s']:.0f} s")
    print_table()
    print(f"wrote {args.out / 'speed.csv'} and {args.out / 'speed.json'}")
    print(f"speedup_vs_plain={summary['speedup_vs_plain']:.2f} frozen5_speedup={summary['frozen5_speedup']:.2f} "
          f"overhead_fraction={summary['overhead_fraction']:.3f}")


if __name__ == "__main__":
    main()
