"""Our step against the plain loop in fp32 and in bf16, on this CPU's own ISA and as a CPU without bf16 units.

oneDNN's ONEDNN_MAX_CPU_ISA=AVX2 stops it from using AVX-512 and AMX (so bf16 convolutions are emulated, as on
an AVX2 CPU: torch then reports no bf16 support), and ATEN_CPU_CAPABILITY=avx2 does the same for ATen's own
vectorised kernels. Each ISA is measured in a fresh process (both are read when torch starts), all of its
rates one after the other in that process, so that its ratios come from one run on one machine.
"""

import concurrent.futures
import multiprocessing
import os
import sys

import torch

from harness import Setup, build_run, note, record, steady_rate
from plain_loop import plain_dataset, plain_rate
from transferability.devices import computes_bf16_natively, resolve_precision

ISAS = {"native": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}}
PRECISIONS = ("fp32", "bf16")


def measure_precisions(setup: Setup, seconds: float) -> dict:
    """Rows of section `precision` and a summary: per ISA, which precision `auto` chose, and our step in auto's
    precision over the best plain loop in fp32 (the loop a PyTorch user writes) and in auto's precision."""
    summary = {}
    for isa, env in ISAS.items():
        rates = _in_fresh_process(env, setup, seconds)
        auto = rates["auto"]
        detail = f"{isa}: torch's CPU capability {rates['capability']}, bf16 units {rates['bf16_native']}"
        for precision in PRECISIONS:
            for workers in (0, 1):
                record("precision", f"{isa}: plain PyTorch {precision}, num_workers={workers}", setup.name,
                       rates["plain", precision, workers], "img/s", detail)
            record("precision", f"{isa}: ours {precision} (step loop, steady)", setup.name, rates["ours", precision],
                   "img/s", detail)
        best_plain = {p: max(rates["plain", p, 0], rates["plain", p, 1]) for p in PRECISIONS}
        summary[f"auto_{isa}"] = auto
        summary[f"speedup_vs_plain_{isa}"] = record(
            "precision", f"{isa}: ours in auto's {auto} / best plain fp32", setup.name,
            rates["ours", auto] / best_plain["fp32"], "x", f"auto chose {auto}; {detail}")
        record("precision", f"{isa}: ours {auto} / best plain {auto}", setup.name,
               rates["ours", auto] / best_plain[auto], "x", detail)
        note(f"{isa}: auto = {auto}; ours " + ", ".join(f"{p} {rates['ours', p]:.0f}" for p in PRECISIONS)
             + " img/s; plain " + ", ".join(f"{p} {best_plain[p]:.0f}" for p in PRECISIONS) + " img/s")
    return summary


def _in_fresh_process(env: dict, setup: Setup, seconds: float) -> dict:
    """_rates in a new interpreter started with `env` added to this one's environment (and this folder on its
    path, where the child finds this module, also when it was imported from elsewhere)."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    sys.path.insert(0, here)  # a spawned child starts with the parent's sys.path
    try:
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
            return pool.submit(_rates, setup, seconds).result()
    finally:
        sys.path.remove(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _rates(setup: Setup, seconds: float) -> dict:
    multiprocessing.set_start_method(None, force=True)  # the platform's default for the DataLoader, not spawn
    rates = {"auto": resolve_precision("auto", setup.device), "bf16_native": computes_bf16_natively(setup.device),
             "capability": torch.backends.cpu.get_cpu_capability()}
    dataset = plain_dataset(setup)
    for precision in PRECISIONS:
        for workers in (0, 1):
            rates["plain", precision, workers] = plain_rate(setup, dataset, workers, seconds, precision=precision)
        run = build_run(setup.job("baseB", tag=f"-{precision}", precision=precision))
        rates["ours", precision] = steady_rate(run, seconds)
        del run
    return rates
