"""Linear CKA against its defining properties, linear probes on separable features, and the features
they read from a net."""

import math

import numpy as np
import pytest
import torch

from transferability.architectures import architecture
from transferability.model import build_model
from transferability.similarity import bounded, fit_probe, layer_features, linear_cka, probe_top1


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 12)), rng.normal(size=(60, 7))


def test_cka_of_a_representation_with_itself_is_one(features):
    x, _ = features
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)


def _rotation(size: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(size, size)))
    return q


def test_cka_is_invariant_to_orthogonal_transforms_of_either_representation_and_of_both(features):
    x, y = features
    q, r = _rotation(12, 1), _rotation(7, 2)
    for rotated in [(x @ q, y), (x, y @ r), (x @ q, y @ r)]:
        assert linear_cka(*rotated) == pytest.approx(linear_cka(x, y), abs=1e-6)


def test_cka_is_invariant_to_isotropic_scaling_and_offsets(features):
    x, y = features
    assert linear_cka(7.5 * x + 3.0, 0.01 * y) == pytest.approx(linear_cka(x, y), abs=1e-6)


def test_cka_is_not_invariant_to_anisotropic_scaling(features):
    """Why the invariances above are a real check: stretching one feature does change CKA."""
    x, y = features
    stretched = x * np.r_[30.0, np.ones(11)]
    assert abs(linear_cka(stretched, y) - linear_cka(x, y)) > 1e-3


def test_cka_of_one_dimensional_features_is_the_squared_correlation():
    """Hand-computed: centred x = (-1, 0, 1), y = (-1, 1, 0): <x, y> = 1, |x|^2 = |y|^2 = 2, CKA = 1/4."""
    assert linear_cka(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [3.0], [2.0]])) == pytest.approx(0.25)


def test_cka_known_value_in_two_dimensions():
    """Hand-computed: X^T X = 2 I (norm sqrt 8), Y^T Y = 2, Y^T X = (2, 0): CKA = 4 / (2 sqrt 8) = 1/sqrt 2."""
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y = np.array([[1.0], [-1.0], [0.0], [0.0]])
    assert linear_cka(x, y) == pytest.approx(1 / math.sqrt(2))


def test_cka_of_independent_noise_is_small():
    rng = np.random.default_rng(2)
    assert linear_cka(rng.normal(size=(2000, 5)), rng.normal(size=(2000, 5))) < 0.02


def test_cka_needs_the_same_images():
    with pytest.raises(ValueError, match="same images"):
        linear_cka(np.ones((5, 2)), np.ones((6, 2)))


def test_cka_of_a_dead_layer_is_undefined():
    assert math.isnan(linear_cka(np.zeros((5, 3)), np.ones((5, 2)) + np.arange(5)[:, None]))


def _blobs(rng, n, classes, dims, separation):
    labels = rng.integers(0, classes, n)
    centres = separation * np.eye(classes, dims)
    return centres[labels] + rng.normal(size=(n, dims)), labels


def test_probe_separates_separable_features():
    rng = np.random.default_rng(3)
    train, train_labels = _blobs(rng, 300, 4, 20, separation=8.0)
    val, val_labels = _blobs(rng, 300, 4, 20, separation=8.0)
    probe = fit_probe(train, train_labels, 4)
    assert probe_top1(probe, val, val_labels) == 1.0


def test_probe_on_uninformative_features_is_near_chance():
    rng = np.random.default_rng(4)
    train, val = rng.normal(size=(400, 20)), rng.normal(size=(400, 20))
    probe = fit_probe(train, rng.integers(0, 4, 400), 4)
    assert probe_top1(probe, val, rng.integers(0, 4, 400)) < 0.35


def test_probe_ignores_dead_features_and_is_deterministic():
    rng = np.random.default_rng(5)
    train, labels = _blobs(rng, 200, 3, 10, separation=6.0)
    train[:, 5] = 0.0  # a unit that never fires: spread 0 must not give NaNs
    first, second = fit_probe(train, labels, 3), fit_probe(train, labels, 3)
    assert torch.isfinite(first.weight).all() and torch.equal(first.weight, second.weight)


def test_layer_features_are_the_blocks_outputs():
    torch.manual_seed(0)
    arch = architecture({"preset": "small", "input_size": 16})
    model = build_model(arch, 1, 5).eval()
    images = torch.randint(0, 256, (7, 1, 18, 18), dtype=torch.uint8)
    features = layer_features(model, images, [1, 3, 8], 16, [100.0], [50.0], max_features=10**6)
    x = (images[:, :, 1:17, 1:17].float() - 100.0) / 50.0
    with torch.no_grad():
        assert np.allclose(features[3], model[:3](x).flatten(1).numpy(), atol=1e-5)
        assert np.allclose(features[8], model(x).numpy(), atol=1e-5)
    assert features[1].shape == (7, 16 * 8 * 8)  # conv1 pooled to 8 x 8, flattened


def test_large_conv_maps_are_pooled_to_the_feature_limit():
    maps = torch.ones(2, 16, 14, 14)
    assert bounded(maps, 4096).shape == (2, 16 * 14 * 14)  # fits: flattened as it is
    assert bounded(maps, 1024).shape == (2, 16 * 8 * 8)  # the largest square grid that fits
