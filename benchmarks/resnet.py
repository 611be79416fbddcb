#!/usr/bin/env python
"""What a ResNet-18 net of config/resnet18_cifar10.yaml costs on this CPU: seconds per training step at the
preset's batch size, per net (the preset's epochs over a CIFAR-10 half, with its evaluations) and for the
preset's whole grid, on the CPU's own ISA and as an AVX2 CPU without bf16 units.

    .venv/bin/python benchmarks/resnet.py [--steps 6] [--threads 1]

Each ISA runs in a fresh process (ONEDNN_MAX_CPU_ISA and ATEN_CPU_CAPABILITY are read when torch starts), on
generated CIFAR-shaped data (32 px, 3 channels, 10 classes) through the workflow's own training code
(train.prepare_run, Run.train_step, Run.evaluate), in the precision train.precision: auto picks there. A baseB
net trains every unit; A5B (the stem and 4 blocks frozen) shows what a frozen prefix saves.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from transferability import plan, splits, train  # noqa: E402 (after the path)
from transferability.config import load_config  # noqa: E402
from transferability.data import build_cache  # noqa: E402

PRESET = ROOT / "config/resnet18_cifar10.yaml"
ISAS = {"native": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}}
CIFAR10_HALF = {"train": 25_000, "val": 5_000}  # 5 classes of 5,000 training and 1,000 test images
EVAL_IMAGES = 500  # evaluated to time evaluation, scaled to a half's validation images


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per net (after 2 warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="threads of a training job (train.threads)")
    parser.add_argument("--isa", choices=ISAS, help=argparse.SUPPRESS)  # the child process's mode
    args = parser.parse_args(argv)
    if args.isa:
        print(json.dumps(measure(args.steps, args.threads)))
        return
    for isa, env in ISAS.items():
        child = subprocess.run([sys.executable, __file__, "--isa", isa, "--steps", str(args.steps), "--threads",
                                str(args.threads)], env={**os.environ, **env}, capture_output=True, text=True,
                               check=True)
        report(isa, json.loads(child.stdout.strip().splitlines()[-1]), args.threads)


def measure(steps: int, threads: int) -> dict:
    """Seconds per step of baseB and A5B, evaluation seconds per image, and what the preset's nets need."""
    config = load_config(PRESET)
    scratch = Path(tempfile.mkdtemp(prefix="resnet-bench-"))
    meta = build_cache({"kind": "synthetic", "synthetic": {"classes": 10, "train_per_class": 300,
                        "val_per_class": EVAL_IMAGES // 5, "image_size": 32, "channels": 3, "seed": 0}},
                       scratch / "data", log=lambda _: None)
    splits.write_split(scratch / "split.tsv", meta["classes"], *splits.random_halves(10, 0))
    timings = {}
    for net in ("baseB", "A5B"):
        settings = plan.train_settings(config, "random0", 0, net)
        job = train.Job(settings=settings, data_dir=scratch / "data", split_file=scratch / "split.tsv",
                        out_dir=scratch / net, checkpoint_dir=scratch / net / "ckpt", threads=threads)
        if net == "A5B":  # any weights of the right shapes: the cost does not depend on their values
            job.source_weights = scratch / "baseB.safetensors"
        run = train.prepare_run(job, log=lambda _: None)
        timings[net] = step_seconds(run, steps)
        if net == "baseB":
            start = time.perf_counter()
            run.evaluate()
            timings["eval_per_image"] = (time.perf_counter() - start) / len(run.val_data)
            weights = {k: v.detach().contiguous() for part in (run.frozen, run.trainable)
                       for k, v in part.state_dict().items()}
            save_file(weights, str(scratch / "baseB.safetensors"))
    return {**timings, "precision": run.precision, "capability": torch.backends.cpu.get_cpu_capability(),
            "batch": config["train"]["batch_size"], "epochs": config["train"]["epochs"],
            "nets": len(plan.all_nets(config))}


def step_seconds(run, steps: int) -> list[float]:
    """(median, fastest) seconds of Run.train_step on full batches, after two warm-up steps: on a CPU shared with
    other work the median is what a job gets, the fastest near what the CPU does alone."""
    perm = torch.randperm(len(run.train_data), generator=run.generator)
    times = []
    for step in range(steps + 2):
        index = perm[(step * run.batch) % (len(perm) - run.batch):][:run.batch]
        start = time.perf_counter()
        run.train_step(index, run.train_data.images[index])
        times.append(time.perf_counter() - start)
    timed = sorted(times[2:])
    return [timed[len(timed) // 2], timed[0]]


def report(isa: str, t: dict, threads: int) -> None:
    """Per step, per net (the preset's epochs of a CIFAR-10 half and its evaluations) and the whole grid."""
    steps = t["epochs"] * (CIFAR10_HALF["train"] // t["batch"])
    evaluation = t["epochs"] * CIFAR10_HALF["val"] * t["eval_per_image"]
    per_net = {net: steps * t[net][0] + evaluation for net in ("baseB", "A5B")}
    grid = t["nets"] * per_net["baseB"]
    print(f"{isa} (torch CPU capability {t['capability']}, auto precision {t['precision']}, {threads} thread(s)): "
          f"step of {t['batch']} images (median, fastest): baseB {t['baseB'][0]:.2f} s, {t['baseB'][1]:.2f} s; "
          f"A5B {t['A5B'][0]:.2f} s, {t['A5B'][1]:.2f} s; "
          f"per net at the median ({t['epochs']} epochs, {steps} steps + evaluation): baseB {per_net['baseB'] / 3600:.1f} h, "
          f"A5B {per_net['A5B'] / 3600:.1f} h; grid of {t['nets']} nets, each at baseB's cost (an upper bound: "
          f"frozen nets skip their prefix's backward): {grid / 3600:.0f} job-hours, "
          f"{grid / 3600 / 24 / 2:.0f} days on 2 cores (2 one-thread jobs)")


if __name__ == "__main__":
    main()
