"""A pretrained source in place of half A's base net (config key `source`, docs/pretrained.md).

A torchvision weights file (the state dict that `torch.save(torchvision.models.resnet18().state_dict(), path)`
writes, as torchvision's own downloads are) stands for baseA: every class of the user's data set is half B (the
split `pretrained`), and AnB / AnB+ copy the file's first n units. The workflow checks the file when it starts
(check_source: one line naming the file and the first tensor that does not fit, before any job), and one job
converts it into the workflow's own format for half A (write_source_units), which the AnB jobs read as they read
a trained baseA. Its sha256 is part of the settings of every net that copies it.

Torch and torchvision are imported inside the functions that need them: plan.py imports this module each time
Snakemake starts, and a config without a source must not pay for them.
"""

import os
import re
from pathlib import Path

from .io import file_sha256

PRETRAINED_SPLIT = "pretrained"  # the one split of a run with a source: every class of the data set is half B
WEIGHTS_NAME = re.compile(r"[A-Za-z0-9_]+_Weights\.[A-Za-z0-9_]+")  # torchvision's, e.g. ResNet18_Weights.IMAGENET1K_V1
NATIVE_CHANNELS = {"fashion_mnist": 1}  # the others' images are read as RGB unless dataset.channels says otherwise


class SourceError(ValueError):
    """A source file that cannot be found, read or fitted; the message names the file and what to do."""


def has_source(config: dict) -> bool:
    return config.get("source", {}).get("weights") is not None


def is_weights_name(weights: str) -> bool:
    return WEIGHTS_NAME.fullmatch(weights) is not None


def source_path(source: dict, fetch: bool = False) -> Path:
    """The file of `source.weights`: a path as given (~ expanded), or a torchvision weights name's file in
    torchvision's cache (torch.hub.get_dir()/checkpoints, where its weights API keeps downloads). fetch: check
    that the file is there, and have torchvision download a missing named file when source.download is true."""
    weights = source["weights"]
    if not is_weights_name(weights):
        return Path(weights).expanduser()
    import torch.hub
    from torchvision.models import get_weight

    try:
        named = get_weight(weights)
    except (ValueError, KeyError, AttributeError) as error:
        raise SourceError(f"config key source.weights = {weights!r} is not a torchvision weights name ({error}); "
                          "give one such as ResNet18_Weights.IMAGENET1K_V1, or the path of a file") from None
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(named.url)
    if fetch and not path.exists():
        if not source.get("download"):
            raise SourceError(f"pretrained source {weights}: {path} is not there; put the file there (from "
                              f"{named.url}) or set source.download: true where a network is available")
        named.get_state_dict(progress=False)  # torchvision's weights API: downloads into torch.hub's cache
    return path


def source_sha256(config: dict) -> str:
    """The sha256 of the config's source file: part of the settings of every net that copies it."""
    return file_sha256(source_path(config["source"]))


def data_channels(dataset: dict) -> int:
    """The channels of the cached images, from the config alone (datasets.py's rules, for the check at start)."""
    if dataset["kind"] == "synthetic":
        return dataset.get("synthetic", {}).get("channels") or dataset.get("channels") or 3
    return dataset.get("channels") or NATIVE_CHANNELS.get(dataset["kind"], 3)


def check_source(config: dict) -> Path:
    """The source file, found (downloaded only if the config says so), read and checked against the config's
    net and data: SourceError in one line otherwise. What the workflow does when it starts, before any job."""
    from .architectures import architecture

    path = source_path(config["source"], fetch=True)
    fit_source(path, read_state_dict(path), architecture(config["model"]), data_channels(config["dataset"]))
    return path


def read_state_dict(path) -> dict:
    """The file's tensors by name (torch.load with weights_only: nothing in it is run)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SourceError(f"pretrained source {path}: cannot read it: no such file") from None
    except Exception as error:  # torch reports a cut or foreign file in many ways: pass on its first line
        first = str(error).strip().splitlines()[0].split(". ")[0] if str(error).strip() else type(error).__name__
        raise SourceError(f"pretrained source {path}: cannot read it as a state dict (truncated or corrupt?): "
                          f"{first}") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise SourceError(f"pretrained source {path}: not a state dict of tensors; save one as "
                          "torch.save(net.state_dict(), path), as torchvision's weights files are")
    return state


def source_classes(state: dict) -> int:
    """The source's own classes (ImageNet's 1,000, say), for building its net: only the units before its
    classifier are copied, so they need not be the user's."""
    return state["fc.weight"].shape[0] if "fc.weight" in state else 1000


def fit_source(path, state: dict, arch: dict, channels: int) -> None:
    """SourceError naming the first tensor of the file that the config's net lacks or that has another shape,
    else the first tensor of the net (before its classifier) that the file lacks; shapes only, on the meta device."""
    import torch

    from .model import torchvision_resnet

    with torch.device("meta"):
        expected = torchvision_resnet(arch, channels, source_classes(state)).state_dict()
    net = f"torchvision's {arch['torchvision']} with model.stem: {arch['stem']} and {channels} input channels"
    where = f"pretrained source {path} does not fit {net}"
    for key, tensor in state.items():
        if key not in expected:
            hint = ("a file saved from nn.DataParallel: remove the 'module.' prefix of its keys"
                    if key.startswith("module.") else "a file of another architecture?")
            raise SourceError(f"{where}: the file has {key} {tuple(tensor.shape)}, which {arch['torchvision']} "
                              f"lacks ({hint})")
        if tensor.shape != expected[key].shape:
            raise SourceError(f"{where}: {key} is {tuple(tensor.shape)} in the file, {tuple(expected[key].shape)} "
                              f"in this net{_shape_hint(key, tensor.shape, expected[key].shape, arch)}")
    # BatchNorm fills in a counter that older files lack; the classifier is never copied
    needed = [key for key in expected if not key.startswith("fc.") and not key.endswith("num_batches_tracked")]
    for key in (key for key in needed if key not in state):
        raise SourceError(f"{where}: the file lacks {key} ({tuple(expected[key].shape)} in this net)")


def _shape_hint(key: str, found, wanted, arch: dict) -> str:
    """What to change where the first conv differs: the stem (its kernel) or the data's channels."""
    if key != "conv1.weight":
        return ""
    if found[2:] != wanted[2:]:
        other = "small" if found[-1] == 3 else "imagenet"
        return (f": the file's stem is not this config's model.stem: {arch['stem']}; set model.stem: {other} "
                "(and an input_size that suits it)")
    if found[1] != wanted[1]:
        return f": its first conv reads {found[1]} channels, the data set's images have {wanted[1]}; set dataset.channels: {found[1]}"
    return ""


def write_source_units(path, arch: dict, channels: int, out) -> None:
    """The source file as half A's units in the workflow's format (safetensors; stem, block1..blockK, as a
    trained baseA's), the classifier left out: what every AnB job copies its first n units from."""
    from safetensors.torch import save_file

    from .io import atomic_path
    from .model import resnet_units, torchvision_resnet

    state = read_state_dict(path)
    fit_source(path, state, arch, channels)
    net = torchvision_resnet(arch, channels, source_classes(state))
    net.load_state_dict(state, strict=False)  # fit_source checked every key; the classifier may be absent
    units = resnet_units(net, arch).state_dict()
    with atomic_path(out) as tmp:
        save_file({key: value.contiguous() for key, value in units.items() if not key.startswith("fc.")}, str(tmp))
