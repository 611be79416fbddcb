"""Residual nets (model.preset resnet18): torchvision's ResNet-18 as ordered transfer units (the stem, each
residual block, the classifier), the config's layers checked against its unit count, and frozen units that
keep their BatchNorm statistics through real training steps."""

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import load_file

from conftest import ROOT, SMOKE
from transferability import analysis, plan, plots, splits
from transferability.architectures import PRESETS, architecture, transfer_units
from transferability.config import ConfigError, load_config
from transferability.data import build_cache
from transferability.model import build_model, unit_names
from transferability.nets import parse_net
from transferability.train import Job, prepare_run, train

SMALL_STEM = {"preset": "resnet18", "stem": "small", "input_size": 16}
UNITS = ["stem", *(f"block{i}" for i in range(1, 9)), "fc"]


def resnet_config(**keys) -> dict:
    """The smoke config on resnet18 (small stem, 16 px), without the layer analyses, these keys laid over it."""
    return load_config(SMOKE, {"model": SMALL_STEM, "analyses": {"run": []}, **keys})


def test_resnet18_is_torchvisions_net_as_stem_blocks_and_classifier():
    """Built from a seed, it is torchvision's resnet18 of that seed, tensor for tensor, its children renamed."""
    torch.manual_seed(0)
    ours = build_model(architecture({"preset": "resnet18"}), 3, 7)
    torch.manual_seed(0)
    theirs = torchvision.models.resnet18(num_classes=7)
    assert unit_names(ours) == UNITS
    assert all(isinstance(ours[i], torchvision.models.resnet.BasicBlock) for i in range(1, 9))
    pairs = list(zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True))
    assert all(torch.equal(a, b) for (_, a), (_, b) in pairs), "not torchvision's weights and buffers"
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(ours(x), theirs(x))
    assert torch.equal(ours[4:](ours[:4](x)), ours(x)), "layer n is the first n units"


def test_the_small_stem_is_a_3x3_conv_at_stride_1_without_max_pooling():
    model = build_model(architecture({"preset": "resnet18", "stem": "small"}), 1, 10)
    conv = model.stem[0]
    assert (conv.in_channels, conv.kernel_size, conv.stride, conv.padding) == (1, (3, 3), (1, 1), (1, 1))
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert model.block1(model.stem(torch.randn(2, 1, 32, 32))).shape == (2, 64, 32, 32)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962 - 2 * 64 * 3 * 3  # CIFAR ResNet-18, 1 channel


def test_each_preset_says_its_transfer_units():
    assert {name: transfer_units(arch) for name, arch in PRESETS.items()} == {"small": 8, "caffenet": 8, "resnet18": 10}
    assert len(build_model(architecture(SMALL_STEM), 3, 5)) == 10


def test_net_names_reach_the_deepest_preset_and_no_further():
    assert (parse_net("A9B").n, parse_net("B8B+").n, parse_net("R9A").n) == (9, 8, 9)
    for bad in ("A10B", "A0B"):
        with pytest.raises(ValueError, match="n = 1..9"):
            parse_net(bad)


@pytest.mark.parametrize("model, layers, expected", [
    ({"preset": "small"}, [1, 8], "config key layers[1] = 8 is out of range; must be <= 7"),
    ({"preset": "caffenet"}, [8], "config key layers[0] = 8 is out of range; must be <= 7"),
    (SMALL_STEM, [3, 10], "config key layers[1] = 10 is out of range; must be <= 9"),
])
def test_layers_beyond_the_presets_units_are_refused_in_one_line(model, layers, expected):
    with pytest.raises(ConfigError) as error:
        load_config(SMOKE, {"model": model, "layers": layers, "analyses": {"run": []}})
    assert str(error.value) == expected


def test_resnet18_plans_n_up_to_9_under_the_papers_names():
    config = resnet_config(layers=[1, 9])
    assert plan.nets_of_split(config, "random0") == ["A1B", "A1B+", "A9B", "A9B+", "B1B", "B1B+", "B9B", "B9B+",
                                                      "baseA", "baseB"]


@pytest.mark.parametrize("model, expected", [
    ({"preset": "resnet18", "conv_channels": [8, 8, 8, 8, 8]},
     "config key model.conv_channels does not apply to model.preset resnet18; its keys: input_size, stem"),
    ({"preset": "small", "stem": "small"},
     "config key model.stem does not apply to model.preset small; its keys: conv_channels, conv_groups"),
])
def test_a_model_key_of_another_preset_is_refused(model, expected):
    with pytest.raises(ConfigError, match=f"^{expected}"):
        load_config(SMOKE, {"model": model, "analyses": {"run": []}})


def test_the_layer_analyses_are_refused_on_a_residual_net_with_what_to_write():
    with pytest.raises(ConfigError, match=r"^config key analyses.run = \['similarity', 'probes', 'filters'\].*"
                                          r"resnet18.*analyses: \{run: \[\]\}"):
        load_config(SMOKE, {"model": SMALL_STEM})


# ---- frozen units keep their BatchNorm statistics, through real training ---------------------------------

@pytest.fixture(scope="module")
def colour_data(tmp_path_factory):
    """A generated 4-class, 3-channel, 16 px data set, cached and split as the workflow does it."""
    root = tmp_path_factory.mktemp("colour")
    meta = build_cache({"kind": "synthetic", "synthetic": {"classes": 4, "train_per_class": 40, "val_per_class": 8,
                                                           "image_size": 16, "channels": 3, "seed": 0}},
                       root / "data", log=lambda _: None)
    half_a, half_b = splits.random_halves(len(meta["classes"]), 0)
    splits.write_split(root / "random0.tsv", meta["classes"], half_a, half_b)
    return root


def resnet_job(data, net, out, source=None) -> Job:
    """2 epochs of 5 steps (80 images of a half, batch 16): an evaluation between them puts the net in eval
    mode and back, as every epoch of a real run does."""
    config = resnet_config(train={"epochs": 2, "batch_size": 16, "lr": 0.05, "lr_step_epochs": 0,
                                  "eval_batch_size": 64})
    return Job(settings=plan.train_settings(config, "random0", 0, net), data_dir=data / "data",
               split_file=data / "random0.tsv", out_dir=out, checkpoint_dir=out / "ckpt", source_weights=source)


@pytest.fixture(scope="module")
def resnet_base_a(colour_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("resnet_baseA")
    train(resnet_job(colour_data, "baseA", out), log=lambda _: None)
    return out / "weights.safetensors"


def batch_norms(module) -> list[torch.nn.Module]:
    return [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def test_frozen_units_keep_their_batchnorm_statistics_and_outputs_through_training(colour_data, resnet_base_a,
                                                                                      tmp_path):
    """A4B freezes the stem and three blocks of baseA: in every training step their BatchNorms normalise with
    baseA's running statistics (eval mode) and update none, so after two epochs (an evaluation between) the
    frozen prefix's weights, buffers and outputs are baseA's, bit for bit."""
    run = prepare_run(resnet_job(colour_data, "A4B", tmp_path, source=resnet_base_a), log=lambda _: None)
    modes = []
    run.frozen.register_forward_pre_hook(lambda *_: modes.append({m.training for m in batch_norms(run.frozen)}))
    probe = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        before = run.frozen(probe)
    run.fit()
    assert modes and all(mode == {False} for mode in modes), f"BatchNorm training modes seen: {modes}"
    assert all(m.training for m in batch_norms(run.trainable)), "the units after the prefix train their BatchNorm"
    saved, source = load_file(str(tmp_path / "weights.safetensors")), load_file(str(resnet_base_a))
    frozen_keys = [key for key in source if key.split(".")[0] in UNITS[:4]]
    assert any("running_mean" in key for key in frozen_keys)
    for key in frozen_keys:
        assert torch.equal(saved[key], source[key]), key
    with torch.no_grad():
        assert torch.equal(run.frozen(probe), before)


def test_fine_tuned_units_train_their_batchnorm_statistics_too(colour_data, resnet_base_a, tmp_path):
    """A4B+ starts from the same copy and trains everything: its copied units' running statistics move."""
    run = prepare_run(resnet_job(colour_data, "A4B+", tmp_path, source=resnet_base_a), log=lambda _: None)
    assert len(run.frozen) == 0
    run.fit()
    saved, source = load_file(str(tmp_path / "weights.safetensors")), load_file(str(resnet_base_a))
    for key in ("stem.1.running_mean", "block3.bn2.running_var", "block3.conv2.weight"):
        assert not torch.equal(saved[key], source[key]), key


# ---- figures: the x-axes reach the deepest n drawn ------------------------------------------------------

@pytest.mark.parametrize("config_file, last", [("config.yaml", 7), ("config/resnet18_cifar10.yaml", 9)])
def test_the_layer_axes_reach_the_runs_deepest_n(config_file, last):
    """resnet18's n = 8 and 9 are drawn inside the axes; the AlexNet-like runs keep the paper's 0..7."""
    from test_plots import planned_nets

    config = load_config(ROOT / config_file)
    nets = planned_nets(config, np.random.default_rng(0))
    summary = analysis.summarize(nets)
    for name in plan.figure_names(config):
        fig = plots.draw(name, nets, summary, plan.figure_context(config))
        for ax in (ax for ax in fig.axes if ax.get_xlabel().startswith("Layer n")):
            assert ax.get_xlim() == (-0.5, last + 0.5) and list(ax.get_xticks()) == list(range(last + 1)), name
