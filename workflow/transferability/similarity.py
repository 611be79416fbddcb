"""What the layers learned, measured cheaply: linear CKA between the layers of two nets, and linear
probes on frozen layers (a transfer curve without training the AnB nets).

Linear CKA (Kornblith et al. 2019, eq. 5, the biased HSIC estimator): for centred features X (n x p) and
Y (n x q) of the same n images, CKA = <K, L>_F / (||K||_F ||L||_F) with K = X X^T and L = Y Y^T. It is 1
for equal representations and invariant to orthogonal transforms and isotropic scaling of either side.

A layer's features are the output of its block (after its ReLU and pooling): exactly what the new upper
layers of a net chopped at that layer receive. Conv maps are flattened, not globally pooled: a global
average would throw away the spatial layout those upper layers use (conv1 of the small net would shrink
to 16 numbers). Only where channels x height x width exceed `max_features` (caffenet's early layers) is
the map average-pooled to the largest square grid that fits, the same grid for every net compared.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from .batches import centre_crop, normalise, select_half
from .data import load_cache
from .model import LAYER_NAMES, build_model
from .nets import N_LAYERS, WEIGHTS_FILE, parse_net
from .splits import read_split

FEATURE_BATCH = 500  # images per forward pass: bounds the memory of conv1's maps
PROBE_L2 = 1e-3  # ridge penalty on standardised features: the data are separable at wide layers
PROBE_ITERATIONS = 30  # L-BFGS iterations; the loss is convex, so no schedule or seed. Top-1 within 0.002 of
# 100 iterations at under a third of the time (Fashion-MNIST, the default run's garments base nets on B)
PROBE_SET_SEED = 0  # the similarity images: the same for every net of a split, and across reruns

SIMILARITY_COLUMNS = ["split", "seed", "net_a", "net_b", "pair", "target", "n", "layer", "layer_name", "cka",
                      "images", "features_a", "features_b"]
PROBE_COLUMNS = ["split", "seed", "net", "source", "target", "layer", "layer_name", "top1", "train_images",
                 "val_images", "features"]


# ---------------------------------------------------------------- CKA

def centred_gram(features) -> torch.Tensor:
    """K = X X^T of column-centred features (n x p -> n x n), in float64 for the sums that follow."""
    x = torch.as_tensor(features, dtype=torch.float32)
    x = x - x.mean(0, keepdim=True)
    return (x @ x.T).double()


def cka_of_grams(k: torch.Tensor, l: torch.Tensor) -> float:
    """Linear CKA from the centred Gram matrices of two representations of the same images."""
    denominator = torch.linalg.matrix_norm(k) * torch.linalg.matrix_norm(l)
    if denominator == 0:  # a layer that is zero on every image: no similarity is defined
        return math.nan
    return float((k * l).sum() / denominator)


def linear_cka(x, y) -> float:
    """Linear CKA between two representations (n x p and n x q) of the same n images."""
    if len(x) != len(y):
        raise ValueError(f"CKA needs the same images on both sides: {len(x)} vs {len(y)} rows")
    return cka_of_grams(centred_gram(x), centred_gram(y))


# ---------------------------------------------------------------- features

def load_net(weights_path, arch: dict) -> torch.nn.Sequential:
    """A trained net in eval mode, its input channels and classes read from its own weights."""
    state = load_file(str(weights_path))
    try:
        in_channels, n_classes = state["conv1.0.weight"].shape[1], state["fc8.0.weight"].shape[0]
    except KeyError as missing:
        raise ValueError(f"{weights_path} holds no {missing} weights: not a net of this workflow") from None
    model = build_model(arch, in_channels, n_classes)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{weights_path} does not fit the model config (was it trained with another "
                         f"one?): {str(error).splitlines()[0]}") from None
    return model.eval()


def bounded(features: torch.Tensor, max_features: int) -> torch.Tensor:
    """Flatten a block's output; a conv map larger than max_features is first average-pooled to the
    largest square grid whose channels x grid fits (see the module's docstring for why)."""
    if features.dim() == 4 and features[0].numel() > max_features:
        side = max(1, math.isqrt(max_features // features.shape[1]))
        features = F.adaptive_avg_pool2d(features, side)
    return features.flatten(1)


@torch.no_grad()
def layer_features(model, images: torch.Tensor, layers, size: int, mean, std, max_features: int) -> dict:
    """{layer: float32 array (images x features)} of the blocks' outputs, layers numbered 1..8, for uint8
    images (N, C, H, W) centre-cropped and normalised as the net was validated. Runs only up to the deepest
    layer asked for."""
    mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    inv_std = 1 / torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    chunks = {layer: [] for layer in layers}
    for start in range(0, len(images), FEATURE_BATCH):
        x = normalise(centre_crop(images[start:start + FEATURE_BATCH], size), mean, inv_std)
        for layer, block in enumerate(model[:max(layers)], start=1):
            x = block(x)
            if layer in chunks:
                chunks[layer].append(bounded(x, max_features))
    return {layer: torch.cat(parts).numpy() for layer, parts in chunks.items()}


def probe_images(cache, classes: list[int], count: int) -> torch.Tensor:
    """A fixed sample of `count` validation images of the split's classes (all of them if fewer), in
    file order: the same images for every net of the split."""
    rows = np.flatnonzero(np.isin(cache.val_labels, classes))
    if count < len(rows):
        rows = np.sort(np.random.default_rng(PROBE_SET_SEED).choice(rows, count, replace=False))
    return torch.from_numpy(np.ascontiguousarray(cache.val_images[rows]))


# ---------------------------------------------------------------- similarity of one split and seed

@dataclass
class Unit:
    """One split and seed: its data, class halves, nets folder and model settings."""
    split: str
    seed: int
    cache: object
    halves: dict  # {"A": class indices, "B": ...}
    nets_dir: object  # results/nets/<split>/seed<seed>
    arch: dict
    max_features: int

    def net(self, name):
        return load_net(self.nets_dir / name / WEIGHTS_FILE, self.arch)

    def features(self, model, images, layers):
        meta = self.cache.meta
        return layer_features(model, images, layers, self.arch["input_size"], meta["mean"], meta["std"],
                              self.max_features)


def open_unit(unit, threads: int) -> Unit:
    """The split and seed a layer-analysis command names (an analysis_unit.AnalysisUnit), with its data and halves loaded."""
    torch.set_num_threads(threads)
    return Unit(split=unit.split, seed=unit.seed, cache=load_cache(unit.data), halves=read_split(unit.split_file),
                nets_dir=Path(unit.nets_dir), arch=unit.model, max_features=unit.max_features)


def similarity_rows(unit: Unit, fine_tuned: list[str], images: int) -> pd.DataFrame:
    """CKA between baseA and baseB at layers 1..7 (and the logits when both halves have the same classes),
    and between each fine-tuned net and its source base net at every layer it copied. Frozen copies are
    left out: their copied layers are the source's, bit for bit, so their CKA is 1 by construction."""
    probe = probe_images(unit.cache, sorted(unit.halves["A"] + unit.halves["B"]), images)
    shared_classes = unit.halves["A"] == unit.halves["B"]
    base_layers = list(range(1, N_LAYERS + (1 if shared_classes else 0)))
    grams = {}  # (net, layer) -> (centred Gram, features)
    for base in ("baseA", "baseB"):
        features = unit.features(unit.net(base), probe, base_layers)
        grams.update({(base, layer): (centred_gram(f), f.shape[1]) for layer, f in features.items()})
    rows = [_row(unit, "baseA", "baseB", "baseA vs baseB", "", None, layer, grams, len(probe))
            for layer in base_layers]
    for name in fine_tuned:
        spec = parse_net(name)
        if not spec.fine_tuned:
            raise ValueError(f"{name} is not a fine-tuned net: only those move their copied layers")
        features = unit.features(unit.net(name), probe, list(range(1, spec.n + 1)))
        grams.update({(name, layer): (centred_gram(f), f.shape[1]) for layer, f in features.items()})
        rows += [_row(unit, name, spec.source_net, f"{spec.treatment} vs source", spec.target, spec.n, layer,
                      grams, len(probe)) for layer in features]
        for layer in features:
            del grams[(name, layer)]  # keep memory to the base nets' Gram matrices
    return pd.DataFrame(rows, columns=SIMILARITY_COLUMNS)


def _row(unit, net_a, net_b, pair, target, n, layer, grams, images):
    (k, p), (l, q) = grams[(net_a, layer)], grams[(net_b, layer)]
    return {"split": unit.split, "seed": unit.seed, "net_a": net_a, "net_b": net_b, "pair": pair,
            "target": target, "n": n, "layer": layer, "layer_name": LAYER_NAMES[layer - 1],
            "cka": cka_of_grams(k, l), "images": images, "features_a": p, "features_b": q}


# ---------------------------------------------------------------- linear probes

@dataclass
class Probe:
    """A softmax-regression classifier on standardised features; weight is (classes, features)."""
    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def predict(self, features) -> np.ndarray:
        x = (torch.as_tensor(features, dtype=torch.float32) - self.mean) * self.scale
        return F.linear(x, self.weight, self.bias).argmax(1).numpy()


@torch.no_grad()
def fit_probe(features, labels, n_classes: int, l2: float = PROBE_L2,
              iterations: int = PROBE_ITERATIONS) -> Probe:
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS. Features are standardised
    with their training mean and spread (dead units, spread 0, stay 0) so one penalty suits every layer."""
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    mean, std = x.mean(0), x.std(0)
    scale = torch.where(std > 0, 1 / std, torch.zeros_like(std))
    x = (x - mean) * scale
    targets = F.one_hot(y, n_classes).float()
    weight, bias = torch.zeros(n_classes, x.shape[1]), torch.zeros(n_classes)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=iterations, history_size=20,
                                  line_search_fn="strong_wolfe")

    def loss():
        # The gradient in closed form, (softmax - one-hot)^T X / n + l2 W: two matrix products, about
        # half the time of autograd's (whose skinny products are slow on the CPU).
        logits = F.linear(x, weight, bias)
        residual = (logits.softmax(1) - targets) / len(x)
        weight.grad, bias.grad = residual.T @ x + l2 * weight, residual.sum(0)
        return F.cross_entropy(logits, y) + 0.5 * l2 * weight.square().sum()

    optimiser.step(loss)
    return Probe(mean, scale, weight, bias)


def probe_top1(probe: Probe, features, labels) -> float:
    return float((probe.predict(features) == np.asarray(labels)).mean())


def probe_rows(unit: Unit, images_per_class: int, targets=("A", "B")) -> pd.DataFrame:
    """For each base net, each target half and layer 1..7: a linear probe trained on the frozen layer's
    features of that half's training images (the first images_per_class of each class), top-1 on as many
    validation images per class. Own half (baseB on B): the selffer's analogue; other half (baseA on B):
    the transfer's."""
    rows, layers = [], list(range(1, N_LAYERS))
    data = {}
    for half in targets:
        classes = unit.halves[half]
        train = select_half(unit.cache.train_images, unit.cache.train_labels, classes, images_per_class)
        val = select_half(unit.cache.val_images, unit.cache.val_labels, classes, images_per_class)
        data[half] = (train, val)
    for source in unit.halves:
        model = unit.net(f"base{source}")
        for target, (train, val) in data.items():
            train_features = unit.features(model, train.images, layers)
            val_features = unit.features(model, val.images, layers)
            for layer in layers:
                probe = fit_probe(train_features[layer], train.labels, train.n_classes)
                rows.append({"split": unit.split, "seed": unit.seed, "net": f"base{source}", "source": source,
                             "target": target, "layer": layer, "layer_name": LAYER_NAMES[layer - 1],
                             "top1": probe_top1(probe, val_features[layer], val.labels.numpy()),
                             "train_images": len(train), "val_images": len(val),
                             "features": train_features[layer].shape[1]})
    return pd.DataFrame(rows, columns=PROBE_COLUMNS)
