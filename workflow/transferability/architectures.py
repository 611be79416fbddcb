"""The net's architecture presets and config keys, without torch: the Snakefile reads them (plan.py) each time
Snakemake starts, which is every dry run, every command and, on a cluster, every job; importing torch there
cost about 2 s each time. The net itself is built by model.py."""

# Every architecture key, per preset. A config's `model` section picks a preset and may override keys.
PRESETS = {
    # Small enough to train the whole 7x4 grid on 2 CPU cores in minutes (28 px Fashion-MNIST).
    "small": dict(input_size=28, conv_channels=[16, 32, 48, 48, 32], conv_kernels=[3, 3, 3, 3, 3],
                  conv_strides=[1, 1, 1, 1, 1], conv_padding=[1, 1, 1, 1, 1], conv_groups=[1, 1, 1, 1, 1],
                  pool_after=[1, 2, 5], pool_kernel=2, pool_stride=2, lrn=False,
                  fc_widths=[128, 128], dropout=0.0),
    # The Caffe reference net of the paper: 227 px crops, LRN after the first two pools, grouped convs.
    "caffenet": dict(input_size=227, conv_channels=[96, 256, 384, 384, 256], conv_kernels=[11, 5, 3, 3, 3],
                     conv_strides=[4, 1, 1, 1, 1], conv_padding=[0, 2, 1, 1, 1], conv_groups=[1, 2, 1, 2, 2],
                     pool_after=[1, 2, 5], pool_kernel=3, pool_stride=2, lrn=True,
                     fc_widths=[4096, 4096], dropout=0.5),
    # torchvision's ResNet-18, its transfer units the stem, each residual block and the classifier. stem:
    # imagenet (7x7 conv at stride 2, max pooling) or small (3x3 conv at stride 1, no pooling: 32 px images).
    "resnet18": dict(torchvision="resnet18", input_size=224, stem="imagenet"),
}
# Residual blocks per stage of each torchvision ResNet a preset builds (torchvision.models.resnet18's [2, 2, 2, 2]).
RESNET_BLOCKS = {"resnet18": [2, 2, 2, 2]}
# Keys a config may give beyond its preset's own: the fused LRN of the AlexNet-like nets (off unless set).
EXTRA_KEYS = {"small": {"lrn_fused"}, "caffenet": {"lrn_fused"}, "resnet18": set()}
FIXED_KEYS = {"torchvision"}  # what a preset is built from: not a config key


def architecture(model_cfg: dict) -> dict:
    """The preset's settings with the config's explicit keys laid over them."""
    arch = dict(PRESETS[model_cfg.get("preset", "small")])
    arch.update({k: v for k, v in model_cfg.items() if k != "preset"})
    return arch


def transfer_units(arch: dict) -> int:
    """How many units a net of this architecture is cut into ("layer n" copies the first n): the 8 weight
    layers of the AlexNet-like nets; the stem, every residual block and the classifier of a ResNet."""
    if "torchvision" in arch:
        return 1 + sum(RESNET_BLOCKS[arch["torchvision"]]) + 1
    return 8


def foreign_keys(model_cfg: dict) -> list[str]:
    """The keys of a config's model section that its preset's net does not have (caffenet's dropout on a
    ResNet, a stem on an AlexNet-like net), sorted."""
    own = own_keys(model_cfg.get("preset", "small"))
    return sorted(key for key in model_cfg if key != "preset" and key not in own)


def own_keys(preset: str) -> list[str]:
    """The keys a config's model section may set for this preset, sorted."""
    return sorted((PRESETS[preset].keys() | EXTRA_KEYS[preset]) - FIXED_KEYS)
