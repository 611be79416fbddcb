"""The nets, each an nn.Sequential of named transfer units, so that "the first n layers" is `net[:n]`:

- the AlexNet-like presets (small, caffenet): exactly 8 weight layers, conv1-conv5 and fc6-fc8; unit i is
  weight layer i together with the ReLU / pooling / normalisation / dropout that follow it;
- the residual presets (resnet18): torchvision's ResNet, its units the stem (first conv, BatchNorm, ReLU and,
  with the ImageNet stem, max pooling), each residual block, and the classifier (pooling, fc).
"""

import functools
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .nets import N_LAYERS

LAYER_NAMES = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]


def build_model(arch: dict, in_channels: int, n_classes: int) -> nn.Sequential:
    if "torchvision" in arch:
        return build_resnet(arch, in_channels, n_classes)
    blocks = OrderedDict()
    channels = in_channels
    for i in range(5):
        out = arch["conv_channels"][i]
        layers = [nn.Conv2d(channels, out, arch["conv_kernels"][i], arch["conv_strides"][i],
                            arch["conv_padding"][i], groups=arch["conv_groups"][i])]
        if i + 1 in arch["pool_after"]:
            # Max-pooling and ReLU commute, so pooling first computes the same function as Caffe's
            # conv-ReLU-pool while the ReLU (forward and backward) touches a quarter of the values.
            layers.append(nn.MaxPool2d(arch["pool_kernel"], arch["pool_stride"]))
        layers.append(nn.ReLU(inplace=True))
        if arch["lrn"] and i < 2:  # CaffeNet normalises after pool1 and pool2
            lrn = FusedLRN if arch.get("lrn_fused") else nn.LocalResponseNorm  # not a preset key: off, unhashed
            layers.append(lrn(5, alpha=1e-4, beta=0.75))
        blocks[LAYER_NAMES[i]] = nn.Sequential(*layers)
        channels = out
    features = _flat_size(arch, channels)
    widths = [features, *arch["fc_widths"]]
    for i in range(2):
        layers = [nn.Linear(widths[i], widths[i + 1]), nn.ReLU(inplace=True)]
        if arch["dropout"] > 0:
            layers.append(nn.Dropout(arch["dropout"]))
        blocks[LAYER_NAMES[5 + i]] = nn.Sequential(*([nn.Flatten()] if i == 0 else []), *layers)
    blocks["fc8"] = nn.Sequential(nn.Linear(widths[2], n_classes))
    assert len(blocks) == N_LAYERS
    model = nn.Sequential(blocks)
    initialise(model)
    return model


def build_resnet(arch: dict, in_channels: int, n_classes: int) -> nn.Sequential:
    """torchvision's ResNet (its own init) as units stem, block1..blockK, fc."""
    return resnet_units(torchvision_resnet(arch, in_channels, n_classes), arch)


def torchvision_resnet(arch: dict, in_channels: int, n_classes: int) -> nn.Module:
    """torchvision's ResNet with the preset's stem, as torchvision builds and names it (its state dict is a
    torchvision weights file's). The small stem, as usual for 32 px images, is a 3x3 conv at stride 1 without
    max pooling: the ImageNet stem's 7x7 conv at stride 2 and pooling would leave a 32 px image 8 px wide
    before the first block."""
    import torchvision.models  # here: its import costs a second that the AlexNet-like nets' jobs need not pay

    net = getattr(torchvision.models, arch["torchvision"])(num_classes=n_classes)
    small = arch["stem"] == "small"
    if small or in_channels != net.conv1.in_channels:
        kernel, stride, padding = (3, 1, 1) if small else (7, 2, 3)
        net.conv1 = nn.Conv2d(in_channels, net.conv1.out_channels, kernel, stride, padding, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
    if small:
        net.maxpool = nn.Identity()
    return net


def resnet_units(net: nn.Module, arch: dict) -> nn.Sequential:
    """A torchvision ResNet's modules (shared, not copied) as the ordered transfer units stem, block1..blockK, fc."""
    stem = [net.conv1, net.bn1, net.relu] + ([] if arch["stem"] == "small" else [net.maxpool])
    blocks = [block for stage in (net.layer1, net.layer2, net.layer3, net.layer4) for block in stage]
    return nn.Sequential(OrderedDict([("stem", nn.Sequential(*stem)),
                                      *((f"block{i}", block) for i, block in enumerate(blocks, start=1)),
                                      ("fc", nn.Sequential(net.avgpool, nn.Flatten(), net.fc))]))


def unit_names(model: nn.Sequential) -> list[str]:
    """The net's transfer units in order (conv1 ... fc8; stem, block1 ... fc): the first n are "layer n"."""
    return [name for name, _ in model.named_children()]


def keep_batch_norm_statistics(frozen: nn.Module) -> None:
    """Put a frozen prefix's BatchNorm layers in eval mode: they normalise with the statistics they were
    copied with (or initialised with) and update none, so a frozen unit computes one fixed function, as its
    frozen weights say. Dropout keeps its training mode (the AlexNet-like nets' frozen fc6 and fc7 drop
    units as Caffe's frozen layers did). Call after every .train()."""
    for module in frozen.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def channel_lrn(x: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """Caffe's across-channel LRN, x / (k + alpha/size * sum of x^2 over `size` neighbouring channels)^beta:
    the function of nn.LocalResponseNorm, as element-wise ops over shifted channel slices (in fp32), which
    torch.compile fuses into one kernel per pass that reads a channels_last tensor as it lies."""
    squares = x.float().square()
    padded = F.pad(squares, (0, 0, 0, 0, size // 2, (size - 1) // 2))  # zero channels before and after
    window = sum(padded[:, i:i + x.shape[1]] for i in range(size))
    return (x.float() * (window * (alpha / size) + k).pow(-beta)).to(x.dtype)


@functools.cache
def _compiled_channel_lrn():
    return torch.compile(channel_lrn, dynamic=False)


class FusedLRN(nn.LocalResponseNorm):
    """nn.LocalResponseNorm (same arguments, no parameters) computed by channel_lrn: compiled into fused
    kernels on a GPU (`model.lrn_fused`), plain on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lrn = _compiled_channel_lrn() if x.is_cuda else channel_lrn
        return lrn(x, self.size, self.alpha, self.beta, self.k)


def initialise(model: nn.Sequential) -> None:
    """He-normal weights for the ReLU layers: without normalisation layers, PyTorch's default init
    lets the signal fade over seven ReLU layers and small nets barely start learning."""
    layers = weight_layers(model)
    for layer in layers[:-1]:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    nn.init.normal_(layers[-1].weight, std=0.01)
    nn.init.zeros_(layers[-1].bias)


def _flat_size(arch: dict, channels_out: int) -> int:
    """Features after the conv stack, from the usual output-size arithmetic."""
    size = arch["input_size"]
    for i in range(5):
        size = (size + 2 * arch["conv_padding"][i] - arch["conv_kernels"][i]) // arch["conv_strides"][i] + 1
        if i + 1 in arch["pool_after"]:
            size = (size - arch["pool_kernel"]) // arch["pool_stride"] + 1
        if size < 1:
            raise ValueError(f"input_size {arch['input_size']} is too small for this architecture (conv{i + 1})")
    return channels_out * size * size


def forward_flops(arch: dict, in_channels: int, n_classes: int) -> int:
    """Multiply-add FLOPs (2 per multiply-accumulate) of one image's forward pass through the weight layers;
    a training step costs about three times this (the backward pass computes two products per layer)."""
    flops, size, channels = 0, arch["input_size"], in_channels
    for i in range(5):
        size = (size + 2 * arch["conv_padding"][i] - arch["conv_kernels"][i]) // arch["conv_strides"][i] + 1
        out = arch["conv_channels"][i]
        flops += 2 * size * size * out * (channels // arch["conv_groups"][i]) * arch["conv_kernels"][i] ** 2
        if i + 1 in arch["pool_after"]:
            size = (size - arch["pool_kernel"]) // arch["pool_stride"] + 1
        channels = out
    widths = [channels * size * size, *arch["fc_widths"], n_classes]
    return flops + sum(2 * a * b for a, b in zip(widths, widths[1:]))


def weight_layers(model: nn.Sequential) -> list[nn.Module]:
    """The 8 conv/linear modules, in order."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
