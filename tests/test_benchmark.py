"""The speed benchmark's own arithmetic and its GPU-only section, run on the CPU (no timing asserted)."""

import importlib
import math
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def caffenet():
    """benchmarks/caffenet.py, imported as benchmarks/speed.py imports it (its folder on sys.path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("caffenet")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.5),
                                        ("NVIDIA H200", 989.4), ("NVIDIA A100-SXM4-80GB", 312.0)])
def test_bf16_peak_is_looked_up_by_gpu_name(caffenet, name, peak):
    assert caffenet.peak_for(name) == peak


def test_an_unknown_gpu_has_no_peak(caffenet):
    assert math.isnan(caffenet.peak_for("Some Future GPU"))


def test_caffenet_section_times_our_real_step_and_counts_its_flops(caffenet):
    torch.set_num_threads(1)
    result = caffenet.measure_caffenet(torch.device("cpu"), batch=2, seconds=0.1, peak=100.0, compile_net=False)
    flops = 3 * caffenet.forward_flops(caffenet.architecture({"preset": "caffenet"}), 3, 1000)
    assert result["images_per_s"] > 0
    assert result["tflops"] == pytest.approx(result["images_per_s"] * flops / 1e12)
    assert result["peak_fraction"] == pytest.approx(result["tflops"] / 100.0)
    assert result["compile_s"] is None
