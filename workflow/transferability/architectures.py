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
}


def architecture(model_cfg: dict) -> dict:
    """The preset's settings with the config's explicit keys laid over them."""
    arch = dict(PRESETS[model_cfg.get("preset", "small")])
    arch.update({k: v for k, v in model_cfg.items() if k != "preset"})
    return arch
