"""A pretrained source in place of half A's base net (docs/pretrained.md): a torchvision ResNet-18 state-dict
file read offline, converted into half A's units, its sha256 in the settings of every net that copies it, and a
file that cannot be read or does not fit refused in one line before any job runs."""

import subprocess
from pathlib import Path

import pytest
import torch
import torchvision
import yaml
from safetensors.torch import load_file
from torch import nn

from conftest import ROOT, SNAKEMAKE
from transferability import io, plan, pretrained, splits
from transferability.architectures import architecture
from transferability.config import ConfigError, load_config
from transferability.train import build_net

TINY_RGB = {"kind": "synthetic", "synthetic": {"classes": 4, "train_per_class": 8, "val_per_class": 2,
                                               "image_size": 16, "channels": 3, "seed": 0}}
PROFILE_NOTE = "Using workflow specific profile"


def torchvision_resnet(name="resnet18", stem="imagenet", classes=1000) -> nn.Module:
    """A torchvision ResNet as a user would have it; the small stem as usual for 32 px images (3x3 conv at
    stride 1, no max pooling)."""
    net = getattr(torchvision.models, name)(num_classes=classes)
    if stem == "small":
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    return net


def save_source(path: Path, net: nn.Module) -> Path:
    """The net's state dict as torchvision's weights files hold it (torch.save of state_dict())."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


def pretrained_config(tmp_path: Path, weights, stem="small", **keys) -> Path:
    config = {"dataset": TINY_RGB, "layers": [3, 9], "model": {"preset": "resnet18", "stem": stem, "input_size": 16},
              "analyses": {"run": []}, "source": {"weights": str(weights)}, **keys}
    path = tmp_path / "pretrained_run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# ---------------------------------------------------------------- the file becomes half A's units


def test_a_torchvision_file_becomes_half_as_units_and_a9b_copies_them(tmp_path):
    """An ImageNet-stem ResNet-18 file (1,000 classes, as torchvision's own) becomes stem, block1..block8;
    its classifier is not taken, and A9B's frozen prefix is the file's tensors bit for bit."""
    source = save_source(tmp_path / "resnet18.pth", torchvision_resnet())
    torchvision.models.resnet18().load_state_dict(torch.load(source, weights_only=True), strict=True)
    arch = architecture({"preset": "resnet18", "input_size": 32})
    units = tmp_path / "units.safetensors"
    pretrained.write_source_units(source, arch, channels=3, out=units)
    converted, original = load_file(str(units)), torch.load(source, weights_only=True)
    assert not [key for key in converted if key.startswith("fc.")]
    assert torch.equal(converted["stem.0.weight"], original["conv1.weight"])
    assert torch.equal(converted["stem.1.running_var"], original["bn1.running_var"])
    assert torch.equal(converted["block8.conv2.weight"], original["layer4.1.conv2.weight"])
    settings = {"net": "A9B", "seed": 0, "model": arch}
    frozen, trainable = build_net(settings, 3, 4, units)
    assert len(frozen) == 9 and trainable[0][2].out_features == 4
    assert torch.equal(frozen.block5.downsample[0].weight, original["layer3.0.downsample.0.weight"])


def test_an_old_file_without_batch_norm_counters_still_fits(tmp_path):
    """torchvision's ImageNet files predate BatchNorm's num_batches_tracked: load_state_dict fills it in."""
    state = torchvision_resnet().state_dict()
    old = {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}
    source = tmp_path / "resnet18-old.pth"
    torch.save(old, source)
    pretrained.write_source_units(source, architecture({"preset": "resnet18"}), 3, tmp_path / "units.safetensors")
    assert "block1.bn1.running_mean" in load_file(str(tmp_path / "units.safetensors"))


# ---------------------------------------------------------------- bad files: one line, before any job


def _truncated(path: Path) -> Path:
    save_source(path, torchvision_resnet(stem="small"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _data_parallel(path: Path) -> Path:
    """A file saved from nn.DataParallel: every key behind 'module.'."""
    state = torchvision_resnet(stem="small").state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"module.{key}": tensor for key, tensor in state.items()}, path)
    return path


BAD_FILES = [
    ("missing", lambda path: path, ["cannot read", "no such file"]),
    ("resnet34", lambda path: save_source(path, torchvision_resnet("resnet34", "small")),
     ["layer1.2.conv1.weight", "resnet18"]),
    ("alexnet", lambda path: save_source(path, torchvision.models.alexnet()), ["features.0.weight", "resnet18"]),
    ("truncated", _truncated, ["cannot read", "corrupt"]),
    ("data-parallel", lambda path: _data_parallel(path), ["module.conv1.weight", "DataParallel", "'module.' prefix"]),
    ("imagenet-stem-for-a-small-stem-net", lambda path: save_source(path, torchvision_resnet()),
     ["conv1.weight", "(64, 3, 7, 7)", "(64, 3, 3, 3)", "model.stem: imagenet"]),
]


@pytest.mark.parametrize("write, expected", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_bad_source_file_stops_the_run_with_one_line_before_any_job(tmp_path, write, expected):
    source = write(tmp_path / "source" / "weights.pth")
    result = subprocess.run([SNAKEMAKE, "-n", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
                             str(pretrained_config(tmp_path, source))], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(PROFILE_NOTE)]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in [str(source), *expected]:
        assert part.lower() in lines[0].lower(), f"{part!r} missing from: {lines[0]}"
    assert not (tmp_path / "results").exists()


def test_a_source_of_other_channels_than_the_data_is_refused(tmp_path):
    source = save_source(tmp_path / "r18.pth", torchvision_resnet(stem="small"))
    config = load_config(pretrained_config(tmp_path, source, dataset={**TINY_RGB, "synthetic": {"channels": 1}}))
    with pytest.raises(pretrained.SourceError, match=r"conv1.weight.*\(64, 3, 3, 3\).*\(64, 1, 3, 3\).*channels"):
        pretrained.check_source(config)


# ---------------------------------------------------------------- where the file is found


def test_a_weights_name_is_read_from_torchvisions_cache_and_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = Path(torch.hub.get_dir()) / "checkpoints/resnet18-f37072fd.pth"
    name = {"weights": "ResNet18_Weights.IMAGENET1K_V1", "download": False}
    with pytest.raises(pretrained.SourceError, match=f"{expected}.*source.download: true"):
        pretrained.source_path(name, fetch=True)
    save_source(expected, torchvision_resnet())
    assert pretrained.source_path(name, fetch=True) == expected
    assert pretrained.source_path({**name, "download": True}, fetch=True) == expected  # there: nothing to fetch


# ---------------------------------------------------------------- the run's design and the nets' identity


def test_every_class_is_half_b_and_no_base_a_is_trained(tmp_path):
    config = load_config(pretrained_config(tmp_path, tmp_path / "r18.pth"))
    assert list(plan.split_definitions(config)) == [pretrained.PRETRAINED_SPLIT]
    assert plan.split_kinds(config) == {pretrained.PRETRAINED_SPLIT: "pretrained"}
    nets = plan.nets_of_split(config, pretrained.PRETRAINED_SPLIT)
    assert "baseA" not in nets and {"baseB", "A3B", "A9B+", "B3B", "B9B+"} <= set(nets)
    definition = plan.split_definitions(config)[pretrained.PRETRAINED_SPLIT]
    assert splits.halves(["cat", "dog", "car"], definition) == ([], [0, 1, 2])
    with pytest.raises(splits.SplitError, match=r"half B \(every class; half A is the pretrained source\) has 1 class"):
        splits.halves(["cat"], definition)
    files = plan.Plan(config).files
    assert plan.Plan(config).source_weights(pretrained.PRETRAINED_SPLIT, 0, "A3B+") == [files.source_units]
    assert plan.Plan(config).source_weights(pretrained.PRETRAINED_SPLIT, 0, "B3B") != [files.source_units]


def test_the_source_files_sha256_is_in_the_settings_of_every_net_that_copies_it(tmp_path):
    first = save_source(tmp_path / "first.pth", torchvision_resnet(stem="small"))
    second = save_source(tmp_path / "second.pth", torchvision_resnet(stem="small"))
    runs = [load_config(pretrained_config(tmp_path, path)) for path in (first, second)]
    split = pretrained.PRETRAINED_SPLIT
    for net in ("A3B", "A3B+", "A9B"):
        settings = [plan.train_settings(config, split, 0, net) for config in runs]
        assert settings[0]["source_sha256"] == io.file_sha256(first)
        assert settings[0] != settings[1]
    for net in ("baseB", "B3B", "B9B+"):
        settings = [plan.train_settings(config, split, 0, net) for config in runs]
        assert "source_sha256" not in settings[0] and settings[0] == settings[1]


REFUSED = [
    ("alexnet-like-net", {"model": {"preset": "small", "input_size": 16}, "layers": [3]},
     ["source.weights", "model.preset small", "resnet18"]),
    ("direction-ba", {"directions": ["AB", "BA"]}, ["directions", "BA", "source"]),
    ("explicit-split", {"splits": {"explicit": {"d": {"A": [0, 1], "B": [2, 3]}}}}, ["splits.explicit", "source"]),
    ("random-split", {"splits": {"random": [0]}}, ["splits.random", "source"]),
    ("controls-on-whole", {"controls_on": "whole"}, ["controls_on", "whole", "source"]),
    ("reduced-data-on-a", {"reduced_data": {"images_per_class": [5], "half": "A"}}, ["reduced_data.half", "B"]),
    ("download-of-a-path", {"source": {"weights": "r18.pth", "download": True}},
     ["source.download", "torchvision weights name"]),
    ("download-of-nothing", {"source": {"weights": None, "download": True}}, ["source.download", "source.weights"]),
]


@pytest.mark.parametrize("keys, expected", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_design_a_pretrained_source_cannot_answer_is_refused_in_one_line(tmp_path, keys, expected):
    with pytest.raises(ConfigError) as refused:
        load_config(pretrained_config(tmp_path, tmp_path / "r18.pth", **keys))
    message = str(refused.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} missing from: {message}"
