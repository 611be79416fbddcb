"""The preset configs: each is valid, and the imagenet one plans the paper's whole study."""

import re
from collections import Counter

import pytest
from PIL import Image

from conftest import ROOT, run_snakemake
from transferability.nets import parse_net


def planned_nets(result) -> list[tuple[str, str]]:
    """(split, net) of every train_net job a dry run lists."""
    return re.findall(r"wildcards: split=([\w-]+), seed=\d+, net=([\w+]+)", result.stdout)


@pytest.fixture(scope="module")
def fake_imagenet(tmp_path_factory):
    """An ImageNet-shaped folder: 1000 wnid class folders in train/ and val/, one tiny JPEG each."""
    root = tmp_path_factory.mktemp("imagenet")
    wnids = (ROOT / "workflow/transferability/paper/synsets.txt").read_text().split()
    image = Image.new("RGB", (8, 8))
    for part in ("train", "val"):
        for wnid in wnids:
            (root / part / wnid).mkdir(parents=True)
            image.save(root / part / wnid / f"{wnid}_1.JPEG")
    return root


def test_imagenet_preset_plans_the_papers_study(fake_imagenet, tmp_path):
    result = run_snakemake(tmp_path, "-n", "--config", f"dataset={{'root': '{fake_imagenet}'}}",
                           config=ROOT / "config/imagenet.yaml")
    nets = planned_nets(result)
    kinds = Counter((split.rstrip("0123456789"), parse_net(net).treatment) for split, net in nets)
    print(sorted(kinds.items()))
    assert kinds == {
        ("random", "base"): 8, ("random", "selffer"): 28, ("random", "selffer_ft"): 28,
        ("random", "transfer"): 28, ("random", "transfer_ft"): 28,
        ("natman", "base"): 2, ("natman", "transfer"): 14,  # Section 4.2, both directions
        ("whole", "base"): 13, ("whole", "random_frozen"): 7,  # the 1000-class net, 12 reduced, Section 4.3
    }
    assert len(nets) == 156  # the paper trained 163 (their selffers ran only A->A, some twice)
    assert "figure3" in result.stdout and "reduced_data" in result.stdout


@pytest.mark.parametrize("preset, splits", [("cifar10", {"random0", "random1", "vehicles_animals"}),
                                            ("cifar100", {"random0", "random1", "natman"}),
                                            ("resnet18_cifar10", {"random0", "random1", "vehicles_animals"})])
def test_cifar_presets_are_valid_and_plan_both_directions(tmp_path, preset, splits):
    nets = planned_nets(run_snakemake(tmp_path, "-n", config=ROOT / f"config/{preset}.yaml"))
    assert {split for split, _ in nets} == splits
    names = {net for _, net in nets}
    assert {"A3B", "B3A", "A3B+", "B3A+", "R3B", "R3A"} <= names


def test_the_resnet18_preset_chops_at_every_unit_but_the_classifier(tmp_path):
    """ResNet-18's 10 transfer units (stem, 8 blocks, fc): n = 1..9 in both directions, with the controls."""
    nets = planned_nets(run_snakemake(tmp_path, "-n", config=ROOT / "config/resnet18_cifar10.yaml"))
    layers = {parse_net(net).n for _, net in nets if parse_net(net).n}
    assert layers == set(range(1, 10))
    assert {"A9B", "B9A+", "R9B", "B1B"} <= {net for _, net in nets}
    assert len(nets) == 3 * 2 * (2 + 2 * 4 * 9 + 2 * 9)  # splits x seeds x (bases, transfer grid, random frozen)


def test_the_pretrained_preset_plans_every_unit_from_torchvisions_cached_resnet18_file(tmp_path):
    """config/pretrained_resnet18.yaml reads ResNet18_Weights.IMAGENET1K_V1's file from torchvision's cache
    (here a ResNet-18 of torchvision's, ImageNet stem, saved where the weights API keeps it) and downloads
    nothing: every class of the folder is half B, baseB and n = 1..9 of BnB, BnB+, AnB, AnB+ per seed."""
    import os

    import torch
    import torchvision

    hub = tmp_path / "torch"
    (hub / "hub/checkpoints").mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), hub / "hub/checkpoints/resnet18-f37072fd.pth")
    images = tmp_path / "images"
    for part in ("train", "val"):
        for name in ("cat", "dog", "car", "ship"):
            (images / part / name).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(images / part / name / "1.png")
    result = run_snakemake(tmp_path, "-n", "--config", f"dataset={{'root': '{images}'}}",
                           config=ROOT / "config/pretrained_resnet18.yaml", env={**os.environ, "TORCH_HOME": str(hub)})
    nets = planned_nets(result)
    assert {split for split, _ in nets} == {"pretrained"}
    names = {net for _, net in nets}
    assert "baseA" not in names and {"baseB", "A1B", "A9B+", "B9B"} <= names
    assert len(nets) == 4 * (1 + 4 * 9)  # seeds x (baseB, BnB, BnB+, AnB, AnB+ at n = 1..9)
    assert "pretrained_source" in result.stdout
