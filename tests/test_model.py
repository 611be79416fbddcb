"""The 8-weight-layer net and the names of the nets of the experiment."""

import pytest
import torch

from transferability.architectures import architecture
from transferability.model import (LAYER_NAMES, FusedLRN, build_model, channel_lrn, forward_flops,
                                   weight_layers)
from transferability.nets import parse_net, transfer_grid


def test_caffenet_preset_is_the_papers_net():
    model = build_model(architecture({"preset": "caffenet"}), 3, 1000)
    layers = weight_layers(model)
    assert [n for n, _ in model.named_children()] == LAYER_NAMES
    assert [l.out_channels for l in layers[:5]] == [96, 256, 384, 384, 256]
    assert [l.out_features for l in layers[5:]] == [4096, 4096, 1000]
    assert layers[0].kernel_size == (11, 11) and layers[0].stride == (4, 4)
    assert [l.groups for l in layers[:5]] == [1, 2, 1, 2, 2]
    assert layers[5].in_features == 256 * 6 * 6  # 227 px -> 55 -> 27 -> 13 -> 6
    assert sum(p.numel() for p in model.parameters()) == 60_965_224  # the reference CaffeNet's count
    assert any(isinstance(m, torch.nn.LocalResponseNorm) for m in model.conv1)
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) == 2
    with torch.device("meta"):
        out = build_model(architecture({"preset": "caffenet"}), 3, 500)(torch.empty(2, 3, 227, 227))
    assert out.shape == (2, 500)


@pytest.mark.parametrize("preset, size, channels, classes", [("small", 28, 1, 5), ("caffenet", 227, 3, 1000)])
def test_forward_flops_match_torchs_flop_counter(preset, size, channels, classes):
    from torch.utils.flop_counter import FlopCounterMode

    arch = architecture({"preset": preset})
    with torch.device("meta"):
        net = build_model(arch, channels, classes)
        with FlopCounterMode(display=False) as counter:
            net(torch.empty(2, channels, size, size))
    assert forward_flops(arch, channels, classes) * 2 == counter.get_total_flops()


def test_layer_n_is_the_first_n_blocks():
    model = build_model(architecture({"preset": "small"}), 1, 5)
    x = torch.randn(3, 1, 28, 28)
    assert model(x).shape == (3, 5)
    assert torch.equal(model[3:](model[:3](x)), model(x))
    assert len(weight_layers(model[:3])) == 3


def test_config_keys_override_the_preset():
    arch = architecture({"preset": "small", "input_size": 16, "fc_widths": [64, 32]})
    model = build_model(arch, 3, 7)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 7)
    assert weight_layers(model)[6].in_features == 64
    with pytest.raises(ValueError, match="too small"):
        build_model(architecture({"preset": "caffenet", "input_size": 32}), 3, 7)


@pytest.mark.parametrize("name, treatment, source, n, frozen", [
    ("baseB", "base", "", 0, 0), ("B3B", "selffer", "B", 3, 3), ("B3B+", "selffer_ft", "B", 3, 0),
    ("A7B", "transfer", "A", 7, 7), ("A1B+", "transfer_ft", "A", 1, 0), ("R4A", "random_frozen", "R", 4, 4),
])
def test_net_names_in_the_papers_notation(name, treatment, source, n, frozen):
    spec = parse_net(name)
    assert (spec.treatment, spec.source, spec.n, spec.frozen_layers) == (treatment, source, n, frozen)


@pytest.mark.parametrize("bad", ["A10B", "A0B", "C3B", "R3B+", "base", "baseC", "A3B++", "../A3B"])
def test_bad_net_names_are_refused(bad):
    with pytest.raises(ValueError, match="bad net name"):
        parse_net(bad)


def test_transfer_grid_is_seven_by_four():
    grid = transfer_grid("AB", range(1, 8), ["selffer", "selffer_ft", "transfer", "transfer_ft"])
    assert len(grid) == 28 == len(set(grid))
    assert {"B1B", "B7B+", "A4B", "A4B+"} <= set(grid)
    assert "A4A" in transfer_grid("BA", [4], ["selffer"])


def test_sgd_is_the_papers_momentum_sgd_with_its_step_schedule():
    """optim.sgd and optim.step_schedule (torch.optim) do the paper's update, written out here: v = m v + (g + wd w),
    w -= lr v, with lr = base x decay^(steps done // every)."""
    from transferability.optim import sgd, step_schedule

    torch.manual_seed(0)
    net = build_model(architecture({"preset": "small", "input_size": 16}), 1, 5)
    weights = [p.detach().clone() for p in net.parameters()]
    velocity = [torch.zeros_like(w) for w in weights]
    optimiser = sgd(net.parameters(), {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4})
    schedule = step_schedule(optimiser, 0.1, 2)
    rates = []
    for step in range(5):
        x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 5, (8,))
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        grads = [p.grad.clone() for p in net.parameters()]
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        schedule.step()
        lr = 0.05 * 0.1 ** (step // 2)
        for w, v, g in zip(weights, velocity, grads):
            v.mul_(0.9).add_(g + 5e-4 * w)
            w.sub_(lr * v)
    assert rates == pytest.approx([0.05, 0.05, 0.005, 0.005, 0.0005])
    for w, p in zip(weights, net.parameters()):
        assert torch.allclose(w, p, rtol=1e-6, atol=1e-7), "not the paper's momentum SGD"


def test_fused_lrn_is_caffes_lrn_as_today_values_and_gradients():
    """channel_lrn (what model.lrn_fused compiles on a GPU) against nn.LocalResponseNorm, in fp32, on
    activations of conv1's scale in channels_last."""
    torch.manual_seed(0)
    x = (torch.randn(4, 96, 27, 27) * 30).contiguous(memory_format=torch.channels_last).requires_grad_()
    today = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)(x)
    (grad_today,) = torch.autograd.grad(today.square().sum(), x)
    fused = channel_lrn(x)
    (grad_fused,) = torch.autograd.grad(fused.square().sum(), x)
    assert torch.allclose(fused, today, rtol=1e-5, atol=1e-5 * today.abs().max().item())
    assert torch.allclose(grad_fused, grad_today, rtol=1e-4, atol=1e-5 * grad_today.abs().max().item())
    assert not torch.allclose(today, x), "the test's activations are large enough for the LRN to matter"


def test_caffenet_with_fused_lrn_trains_the_same_function_within_bf16_rounding():
    arch = architecture({"preset": "caffenet", "input_size": 67})
    torch.manual_seed(0)
    today = build_model(arch, 3, 10)
    torch.manual_seed(0)
    fused = build_model({**arch, "lrn_fused": True}, 3, 10)
    assert sum(isinstance(m, FusedLRN) for m in fused.modules()) == 2
    assert today.state_dict().keys() == fused.state_dict().keys()  # weights move between the two freely
    today.eval(), fused.eval()
    x = torch.randn(2, 3, 67, 67) * 60
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # as training runs it
        a, b = today[:2](x).float(), fused[:2](x).float()
    assert torch.allclose(a, b, rtol=2e-2, atol=2e-2 * a.abs().max().item())


def test_fused_lrn_is_off_and_out_of_the_settings_unless_asked_for():
    arch = architecture({"preset": "caffenet"})
    assert "lrn_fused" not in arch  # no net's settings (and so no result) change with this option's existence
    assert not any(isinstance(m, FusedLRN) for m in build_model(arch, 3, 10).modules())


def test_the_low_lr_treatment_steps_its_copied_layers_at_the_factor():
    """A3B+lr (nets.TREATMENTS' transfer_ft_lowlr): its first 3 layers in a parameter group of their own at
    copied_lr_factor x the rate, also after the schedule's decay; every other net one group."""
    from transferability.optim import sgd, step_schedule
    from transferability.train import param_groups

    model = build_model(architecture({"preset": "small", "input_size": 16}), 1, 5)
    cfg = {"lr": 0.02, "momentum": 0.0, "weight_decay": 0.0}
    assert len(param_groups(model, {"net": "A3B+", "train": cfg})) == 1
    groups = param_groups(model, {"net": "A3B+lr", "train": {**cfg, "copied_lr_factor": 0.1}})
    assert [len(g["params"]) for g in groups] == [len(list(model[:3].parameters())), len(list(model[3:].parameters()))]
    optimiser = sgd(groups, cfg)
    schedule = step_schedule(optimiser, 0.1, 1)
    for rate in (0.02, 0.002):  # the base rate, then after one decay
        before = [p.detach().clone() for p in model.parameters()]
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        optimiser.step()
        schedule.step()
        moved = [(b - p.detach()).abs().max().item() for b, p in zip(before, model.parameters())]
        copied = len(groups[0]["params"])
        assert all(m == pytest.approx(rate * 0.1, rel=1e-3) for m in moved[:copied])
        assert all(m == pytest.approx(rate, rel=1e-3) for m in moved[copied:])
