"""The real Snakemake DAG of a run whose half A is a pretrained source (docs/pretrained.md): a small ResNet-18
"pretrained" here on other generated classes and saved in torchvision's format stands for an ImageNet file."""

import json

import pandas as pd
import pytest
import torch
import torchvision
import yaml
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from conftest import run_dir, run_snakemake
from transferability.data import build_cache, load_cache
from transferability.splits import read_split

pytestmark = pytest.mark.slow
SOURCE_DATA = {"kind": "synthetic", "synthetic": {"classes": 6, "train_per_class": 32, "val_per_class": 4,
                                                  "image_size": 16, "channels": 3, "seed": 7}}


def small_stem_resnet18(classes: int) -> nn.Module:
    """torchvision's ResNet-18 with the small-image stem (3x3 conv at stride 1, no max pooling)."""
    net = torchvision.models.resnet18(num_classes=classes)
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net


def pretrain_source(folder, steps: int = 12):
    """A ResNet-18 trained a few steps on 6 classes of their own, saved as torchvision's weights files are."""
    build_cache(SOURCE_DATA, folder)
    cache = load_cache(folder)
    torch.manual_seed(0)
    net = small_stem_resnet18(6)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    images = torch.tensor(cache.train_images).float() / 255
    labels = torch.tensor(cache.train_labels)
    for step in range(steps):
        batch = torch.randint(len(labels), (32,), generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        F.cross_entropy(net(images[batch]), labels[batch]).backward()
        optimizer.step()
    path = folder.parent / "resnet18_source.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pretrained")
    source = pretrain_source(workdir / "source_data")
    small_stem_resnet18(6).load_state_dict(torch.load(source, weights_only=True), strict=True)  # torchvision's format
    config = {"dataset": {"kind": "synthetic", "synthetic": {"classes": 4, "train_per_class": 32, "val_per_class": 8,
                                                             "image_size": 16, "channels": 3, "seed": 0}},
              "layers": [3, 9], "model": {"preset": "resnet18", "stem": "small", "input_size": 16},
              "train": {"epochs": 2, "batch_size": 16, "lr": 0.05, "lr_step_epochs": 0},
              "augment": {"crop_padding": 1}, "analyses": {"run": []}, "source": {"weights": str(source)}}
    path = workdir / "pretrained_smoke.yaml"
    path.write_text(yaml.safe_dump(config))
    run_snakemake(workdir, "--cores", "2", config=path)
    return run_dir(workdir, "pretrained_smoke"), source


def test_a_pretrained_source_run_trains_b_and_the_transfer_grid_but_no_base_a(pretrained_run):
    run, _ = pretrained_run
    nets = pd.read_csv(run / "tables/nets.csv")
    assert sorted(nets["net"]) == ["A3B", "A3B+", "A9B", "A9B+", "B3B", "B3B+", "B9B", "B9B+", "baseB"]
    assert set(nets["split"]) == {"pretrained"} and set(nets["split_kind"]) == {"pretrained"}
    assert nets["top1"].between(0, 1).all()
    halves = read_split(run / "splits/pretrained.tsv")
    assert halves == {"A": [], "B": [0, 1, 2, 3]}
    assert (run / "tables/findings.csv").exists() and (run / "figures/figure2_bottom.png").exists()


def test_a9b_freezes_the_source_files_units_bit_for_bit(pretrained_run):
    """The stem and all 8 blocks of A9B are the file's conv1, bn1 and layer1-4 tensors, BatchNorm statistics
    included; the source's 6-class classifier is not taken."""
    run, source = pretrained_run
    original = torch.load(source, weights_only=True)
    a9b = load_file(str(run / "nets/pretrained/seed0/A9B/weights.safetensors"))
    assert torch.equal(a9b["stem.0.weight"], original["conv1.weight"])
    assert torch.equal(a9b["stem.1.running_mean"], original["bn1.running_mean"])
    blocks = [f"layer{stage}.{i}" for stage in range(1, 5) for i in range(2)]
    for unit, block in enumerate(blocks, start=1):
        theirs = {key[len(block) + 1:]: value for key, value in original.items() if key.startswith(block + ".")}
        ours = {key[len(f"block{unit}."):]: value for key, value in a9b.items() if key.startswith(f"block{unit}.")}
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours), block
    assert a9b["fc.2.weight"].shape[0] == 4


def test_the_transfer_nets_record_the_source_files_sha256(pretrained_run):
    run, source = pretrained_run
    from transferability.io import file_sha256

    metrics = json.loads((run / "nets/pretrained/seed0/A3B+/metrics.json").read_text())
    assert file_sha256(source) in json.dumps(metrics)
    base = json.loads((run / "nets/pretrained/seed0/baseB/metrics.json").read_text())
    assert file_sha256(source) not in json.dumps(base)


def test_a_moved_source_file_retrains_nothing(pretrained_run):
    """What the file holds (its sha256) decides the nets, not where it lies: the same file elsewhere leaves
    nothing to do."""
    run, source = pretrained_run
    workdir = run.parent.parent
    moved = source.parent / "moved" / source.name
    moved.parent.mkdir()
    moved.write_bytes(source.read_bytes())
    config = yaml.safe_load((workdir / "pretrained_smoke.yaml").read_text())
    config["source"]["weights"] = str(moved)
    path = workdir / "pretrained_smoke_moved.yaml"
    path.write_text(yaml.safe_dump({**config, "run": "pretrained_smoke"}))
    assert "Nothing to be done" in run_snakemake(workdir, "-n", config=path).stdout
