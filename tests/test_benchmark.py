"""The speed benchmark's own arithmetic and its GPU-only sections, run on the CPU (no timing asserted)."""

import importlib
import json
import math
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, run_snakemake
from test_presets import planned_nets
from transferability.architectures import architecture
from transferability.config import check_config, load_schema
from transferability.model import forward_flops
from transferability.nets import parse_net

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _benchmark_module(name):
    """benchmarks/<name>.py, imported as benchmarks/speed.py imports it (its folder on sys.path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def caffenet():
    return _benchmark_module("caffenet")


@pytest.fixture(scope="module")
def grid():
    return _benchmark_module("grid")


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.5),
                                        ("NVIDIA H200", 989.4), ("NVIDIA A100-SXM4-80GB", 312.0)])
def test_bf16_peak_is_looked_up_by_gpu_name(caffenet, name, peak):
    assert caffenet.peak_for(name) == peak


def test_an_unknown_gpu_has_no_peak(caffenet):
    assert math.isnan(caffenet.peak_for("Some Future GPU"))


def test_caffenet_section_times_our_real_step_and_counts_its_flops(caffenet):
    torch.set_num_threads(1)
    result = caffenet.measure_caffenet(torch.device("cpu"), batch=2, seconds=0.1, peak=100.0, compile_net=False)
    flops = 3 * forward_flops(architecture({"preset": "caffenet"}), 3, 1000)
    assert result["images_per_s"] > 0
    assert result["tflops"] == pytest.approx(result["images_per_s"] * flops / 1e12)
    assert result["peak_fraction"] == pytest.approx(result["tflops"] / 100.0)
    assert result["compile_s"] is None


def test_caffenet_section_with_fused_lrn_builds_the_fused_net(caffenet):
    run = caffenet.caffenet_run(torch.device("cpu"), batch=2, compile_net=False, lrn_fused=True)
    assert run.job.settings["model"]["lrn_fused"] is True
    assert sum(type(m).__name__ == "FusedLRN" for m in run.trainable.modules()) == 2


def test_nvidia_smi_samples_give_mean_and_peak_utilisation_and_peak_memory(grid):
    text = "37, 1000\n[N/A], [N/A]\n80, 2500\n4"  # a sample the GPU could not read, a torn last line
    assert grid.parse_nvidia_smi(text) == {"samples": 2, "util_mean": pytest.approx(0.585), "util_max": 0.8,
                                           "memory_max_mib": 2500}
    assert grid.parse_nvidia_smi("") is None


def test_jobs_in_flight_are_counted_from_snakemakes_start_and_finish_lines(grid):
    log = """localrule train_net:
    jobid: 4
rule train_net:
    jobid: 7
Finished jobid: 7 (Rule: train_net)
localrule draw_figure:
    jobid: 9
localrule train_net:
    jobid: 6
Finished jobid: 4 (Rule: train_net)
Finished jobid: 6 (Rule: train_net)
"""
    assert grid.peak_in_flight(log) == 2 and grid.peak_in_flight(log, "draw_figure") == 1


def test_without_nvidia_smi_utilisation_is_not_sampled(grid, monkeypatch):
    monkeypatch.setenv("PATH", "")
    with grid.GpuSampler() as sampler:
        pass
    assert sampler.result is None


def test_the_grid_is_the_cifar10_presets_for_one_split_and_seed(grid, tmp_path):
    """Its config is valid and plans the stated grid: base nets and 7 layers x 5 treatments, A to B."""
    cfg = grid.grid_config()
    check_config(cfg, load_schema(ROOT / "workflow/schemas/config.schema.yaml"))
    preset = yaml.safe_load((ROOT / "config/cifar10.yaml").read_text())
    assert cfg["model"] == preset["model"] and cfg["train"] == {**preset["train"], "epochs": 1}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(cfg))
    nets = planned_nets(run_snakemake(tmp_path, "-n", config=tmp_path / "grid.yaml"))
    assert {split for split, _ in nets} == {"random0"} and len(nets) == 37
    assert sorted({parse_net(net).treatment for _, net in nets}) == [
        "base", "random_frozen", "selffer", "selffer_ft", "transfer", "transfer_ft"]


@pytest.mark.parametrize("script, args, expected", [
    ("speed", ["--require-gpu", "--quick", "--dag", "none", "--compile", "--grid", "on"], "bench-gpu: skipped"),
    ("grid", [], "grid benchmark skipped"),
], ids=["make-bench-gpu", "grid-alone"])
def test_gpu_benchmarks_skip_with_one_line_without_a_gpu(script, args, expected, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    _benchmark_module(script).main([*args, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.startswith(expected) and "no CUDA GPU" in out and len(out.splitlines()) == 1
    assert not any(tmp_path.iterdir()), "nothing measured, nothing written"


def test_gpu_sections_alone_skip_the_cpu_comparisons(capsys, tmp_path):
    """make bench-gpu's --gpu-sections (here with its two sections off: no GPU) measures no plain loop."""
    _benchmark_module("harness").ROWS.clear()  # what this file's other tests recorded
    _benchmark_module("speed").main(["--gpu-sections", "--grid", "off", "--caffenet", "off", "--dag", "none",
                                     "--config", str(ROOT / "tests/smoke.yaml"), "--out", str(tmp_path)])
    assert capsys.readouterr().out.splitlines()[-1] == "speedup_vs_plain=nan frozen5_speedup=nan overhead_fraction=nan"
    sections = {row["section"] for row in json.loads((tmp_path / "speed.json").read_text())["rows"]}
    assert sections == {"data"}


def test_graphs_section_times_the_step_with_and_without_graphs_and_checks_the_bits(capsys, tmp_path):
    """On the CPU the graphed steps run eagerly through the graph's tensors: no speed-up to expect, same bits."""
    _benchmark_module("harness").ROWS.clear()
    _benchmark_module("speed").main(["--gpu-sections", "--grid", "off", "--caffenet", "off", "--graphs", "on",
                                     "--dag", "none", "--seconds", "0.2", "--config", str(ROOT / "tests/smoke.yaml"),
                                     "--out", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"graphs_speedup=\d+\.\d\d graphs_same_bits=True", out[-2])
    rows = {row["item"]: row for row in json.loads((tmp_path / "speed.json").read_text())["rows"]
            if row["section"] == "graphs"}
    eager, graphed = rows["small net: step loop, eager"]["value"], rows["small net: step loop, CUDA graphs"]["value"]
    assert eager > 0 and rows["small net: CUDA graphs / eager"]["value"] == pytest.approx(graphed / eager)


@pytest.mark.slow
def test_grid_runs_the_real_dag_once_per_k(grid, tmp_path, capsys):
    """On the CPU: `--resources gpu=k` limits the training jobs at once here too (the rule asks one slot)."""
    summary = grid.measure_grid(tmp_path, (1, 2), graphs=True, layers=[1], treatments=["selffer"],
                                train_per_class=60, val_per_class=10, image_size=16)
    log = capsys.readouterr().err.splitlines()
    k1_line = next(i for i, line in enumerate(log) if line.startswith("[speed] grid k=1:"))
    k2_start = next(i for i, line in enumerate(log) if "--resources gpu=2" in line)
    assert k1_line < k2_start, "k=1's result is logged only after k=2 ran (a time limit would lose both)"
    runs = {run["k"]: run for run in summary["grid_runs"] if not run["graphs"]}
    graphed = next(run for run in summary["grid_runs"] if run["graphs"])  # the best k again, with cuda_graphs
    assert graphed["nets"] == 3 and summary["grid_graphs_speedup"] > 0
    config = yaml.safe_load((tmp_path / f"grid-k{graphed['k']}-graphs/config.yaml").read_text())
    assert config["train"]["cuda_graphs"] is True
    assert set(runs) == {1, 2} and all(run["nets"] == 3 and run["gpu"] is None for run in runs.values())
    assert [runs[k]["peak_in_flight"] for k in (1, 2)] == [1, 2], "--resources gpu=k: k training jobs at once"
    assert runs[1]["in_flight"] <= 1.0
    for k in (1, 2):  # each run tells its jobs how many share a GPU
        assert yaml.safe_load((tmp_path / f"grid-k{k}/config.yaml").read_text())["resources"]["nets_per_gpu"] == k
    assert summary["grid_k1_speedup"] == 1.0 and summary["grid_k2_speedup"] > 0


@pytest.fixture(scope="module")
def anatomy():
    return _benchmark_module("anatomy")


def test_traffic_counts_layout_mixing_ops_and_not_views_or_allocations(anatomy):
    channels_last = torch.ones(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    plain = torch.ones(2, 3, 4, 5)
    traffic = anatomy.Traffic(weight_shapes=set())
    with traffic:
        channels_last + plain  # one layout read, the other written
        channels_last + channels_last
        channels_last.permute(0, 2, 3, 1)  # a view: writes nothing
        torch.empty_like(plain)  # an allocation: writes nothing either
    assert traffic.ops["layout-mixing ops (add.Tensor)"] == 1
    assert traffic.bytes["layout-mixing ops (add.Tensor)"] == 2 * 3 * 4 * 5 * 4
    assert traffic.ops["all ops"] == 2


def test_traffic_counts_the_bytes_in_place_ops_write(anatomy):
    """An in-place op (ReLU's, the input's normalisation, SGD's multi-tensor update) writes into an input's
    storage: those bytes are written too, unlike a view's."""
    a, b = torch.ones(2, 3, 4, 5), torch.ones(7)
    traffic = anatomy.Traffic(weight_shapes=set())
    with traffic:
        a.relu_()
        torch._foreach_add_([a, b], [a, b])  # returns nothing: the written tensors are its arguments
        a.view(-1)
    assert traffic.ops["all ops"] == 2
    assert traffic.bytes["all ops"] == (2 * 3 * 4 * 5 + 2 * 3 * 4 * 5 + 7) * 4


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_step_traffic_finds_autocasts_weight_casts_exactly(anatomy, precision):
    torch.set_num_threads(1)
    run = anatomy.caffenet_run(torch.device("cpu"), batch=2, compile_net=False, precision=precision)
    traffic = anatomy.step_traffic(run)
    weights = sum(p.numel() for part in (run.frozen, run.trainable) for p in part.parameters())
    # autocast casts each fp32 weight to bf16 in the forward (2 bytes) and its bf16 gradient back (4 bytes)
    expected = weights * (2 + 4) / 1e6 if precision == "bf16" else None
    assert traffic.get("dtype casts, weights", (0, None))[1] == expected
    # the eager LRN layers (nn.LocalResponseNorm) mix channels_last with contiguous tensors
    assert traffic["layout-mixing ops (div.Tensor)"][0] > 0


def test_caffenet_section_shows_where_the_eager_steps_go(anatomy, capsys, tmp_path):
    """speed.py's caffenet section (--caffenet on: a GPU's default) adds both views of the eager and fused steps."""
    _benchmark_module("harness").ROWS.clear()
    _benchmark_module("speed").main(["--gpu-sections", "--grid", "off", "--graphs", "off", "--caffenet", "on",
                                     "--caffenet-batch", "2", "--seconds", "0.1", "--dag", "none",
                                     "--config", str(ROOT / "tests/smoke.yaml"), "--out", str(tmp_path)])
    rows = {row["item"]: row["value"] for row in json.loads((tmp_path / "speed.json").read_text())["rows"]
            if row["section"] == "anatomy"}
    for label in ("caffenet eager", "caffenet eager, fused LRN"):
        assert rows[f"{label}: all ops"] > rows[f"{label}: dtype casts, weights"] > 0
        assert 0 < rows[f"{label}: copies' share of CPU time"] < 1


def test_precision_section_measures_both_precisions_on_both_isas_and_names_autos_choice(tmp_path):
    """make bench's section 3b (benchmarks/precision.py): as an AVX2 CPU (oneDNN and ATen capped at AVX2), torch
    reports no bf16 units and auto chooses fp32; on this CPU's own ISA auto follows what torch reports."""
    harness, precision = _benchmark_module("harness"), _benchmark_module("precision")
    harness.ROWS.clear()
    setup = harness.Setup("smoke", harness.load_config(ROOT / "tests/smoke.yaml"), tmp_path)
    summary = precision.measure_precisions(setup, seconds=0.3)
    native = "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    assert (summary["auto_native"], summary["auto_avx2"]) == (native, "fp32")
    rows = {row["item"]: row for row in harness.ROWS if row["section"] == "precision"}
    for isa in ("native", "avx2"):
        for p in ("fp32", "bf16"):
            assert rows[f"{isa}: ours {p} (step loop, steady)"]["value"] > 0
            assert rows[f"{isa}: plain PyTorch {p}, num_workers=1"]["value"] > 0
    assert "capability AVX2" in rows["avx2: ours fp32 (step loop, steady)"]["detail"]
    auto_ratio = rows["avx2: ours in auto's fp32 / best plain fp32"]["value"]
    assert auto_ratio == summary["speedup_vs_plain_avx2"]
