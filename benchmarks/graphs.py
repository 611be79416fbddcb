"""The small net's training step with and without CUDA graphs (train.cuda_graphs), side by side in one run:
steady-state images/s of Run.train_step on the default config, rounds alternating eager and graphed (a
shared machine's speed drifts), and whether a graphed net has the eager net's bits (one epoch each)."""

import dataclasses
import statistics

import torch
from safetensors.torch import load_file

from harness import Setup, T, build_run, note, record, steady_rate


def graphed_run(setup: Setup, graphs: bool, tag: str) -> T.Run:
    job = setup.job("baseB", tag=tag)
    job.options = dataclasses.replace(job.options, cuda_graphs=graphs)
    return build_run(job)


def measure_graphs(setup: Setup, seconds: float, rounds: int = 2) -> dict:
    rates = {False: [], True: []}
    for _ in range(rounds):
        for graphs in (False, True):
            run = graphed_run(setup, graphs, f"-graphs{graphs}")
            rates[graphs].append(steady_rate(run, seconds, warmup=5))  # past the graph's warm-up and capture
            del run
    eager, graphed = statistics.median(rates[False]), statistics.median(rates[True])
    detail = f"baseB, batch {setup.cfg['train']['batch_size']}, {setup.device}, median of {rounds} alternating rounds"
    record("graphs", "small net: step loop, eager", setup.name, eager, "img/s", detail)
    record("graphs", "small net: step loop, CUDA graphs", setup.name, graphed, "img/s", detail)
    speedup = record("graphs", "small net: CUDA graphs / eager", setup.name, graphed / eager, "x")
    same = same_bits(setup)
    record("graphs", "small net: graphed net's bits = eager net's", setup.name, float(same), "bool",
           "weights after one epoch, train()")
    note(f"small net: eager {eager:.0f} img/s, CUDA graphs {graphed:.0f} img/s ({speedup:.2f}x); same bits: {same}")
    return {"graphs_eager_images_per_s": eager, "graphs_images_per_s": graphed, "graphs_speedup": speedup,
            "graphs_same_bits": same}


def same_bits(setup: Setup) -> bool:
    weights = []
    for graphs in (False, True):
        job = setup.job("baseB", tag=f"-bits{graphs}", epochs=1)
        job.options = dataclasses.replace(job.options, cuda_graphs=graphs)
        T.train(job, log=lambda line: None)
        weights.append(load_file(str(job.out_dir / "weights.safetensors")))
    return all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
