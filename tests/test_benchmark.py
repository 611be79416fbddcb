"""The speed benchmark's own arithmetic and its GPU-only section, run on the CPU (no timing asserted)."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

SPEED = Path(__file__).resolve().parents[1] / "benchmarks/speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed", SPEED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.5),
                                        ("NVIDIA H200", 989.4), ("NVIDIA A100-SXM4-80GB", 312.0)])
def test_bf16_peak_is_looked_up_by_gpu_name(speed, name, peak):
    assert speed.peak_for(name) == peak


def test_an_unknown_gpu_has_no_peak(speed):
    assert math.isnan(speed.peak_for("Some Future GPU"))


def test_caffenet_section_times_our_real_step_and_counts_its_flops(speed):
    torch.set_num_threads(1)
    result = speed.measure_caffenet(torch.device("cpu"), batch=2, seconds=0.1, peak=100.0, compile_net=False)
    flops = 3 * speed.forward_flops(speed.architecture({"preset": "caffenet"}), 3, 1000)
    assert result["images_per_s"] > 0
    assert result["tflops"] == pytest.approx(result["images_per_s"] * flops / 1e12)
    assert result["peak_fraction"] == pytest.approx(result["tflops"] / 100.0)
    assert result["compile_s"] is None
