"""The real Snakemake DAG of a residual net's from-scratch grid (tests/smoke_resnet.yaml: ResNet-18 with the
small-image stem on generated data): every net, table and figure, named and wired as for the AlexNet-like nets."""

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, run_dir, run_snakemake

pytestmark = pytest.mark.slow
UNITS = ["stem", *(f"block{i}" for i in range(1, 9)), "fc"]


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("resnet")
    run_snakemake(workdir, "--cores", "2", config=ROOT / "tests/smoke_resnet.yaml")
    return run_dir(workdir, "smoke_resnet")


def test_a_resnet18_grid_runs_end_to_end(resnet_run):
    nets = pd.read_csv(resnet_run / "tables/nets.csv")
    assert sorted(nets["net"]) == ["A3B", "A3B+", "A9B", "A9B+", "B3B", "B3B+", "B9B", "B9B+", "baseA", "baseB"]
    assert nets["top1"].between(0, 1).all() and set(nets["n"]) == {0, 3, 9}
    assert set(pd.read_csv(resnet_run / "tables/per_layer.csv")["n"]) == {0, 3, 9}
    for name in ("figure2_top", "figure2_bottom", "training_curves"):
        assert (resnet_run / f"figures/{name}.png").stat().st_size > 10_000


def test_a_frozen_resnet_prefix_is_its_base_nets_units_bit_for_bit(resnet_run):
    """A9B copies and freezes the stem and all 8 blocks of baseA, BatchNorm statistics included; its
    classifier is its own."""
    nets = resnet_run / "nets/random0/seed0"
    base, frozen = (load_file(str(nets / f"{net}/weights.safetensors")) for net in ("baseA", "A9B"))
    assert sorted({key.split(".")[0] for key in frozen}) == sorted(UNITS)
    copied = [key for key in base if not key.startswith("fc.")]
    assert any(key.endswith("running_var") for key in copied)
    assert all(torch.equal(frozen[key], base[key]) for key in copied)
    assert not torch.equal(frozen["fc.2.weight"], base["fc.2.weight"])
