"""Tests of the data readers and the uint8 cache (transferability.data / .datasets)."""

import gzip
import hashlib
import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transferability.config import load_config
from transferability import datasets, layout
from transferability.data import DataError, build_cache, load_cache

SYNTHETIC = {"kind": "synthetic", "synthetic": {"classes": 4, "train_per_class": 6, "val_per_class": 3,
                                                "image_size": 12, "channels": 3, "seed": 7}}
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def cache_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------- cache and synthetic data

def test_synthetic_round_trip(tmp_path):
    meta = build_cache(SYNTHETIC, tmp_path)
    cache = load_cache(tmp_path)
    expected = datasets.make_synthetic(SYNTHETIC)
    train_images = np.empty((24, 3, 12, 12), np.uint8)
    expected.train.write_images(train_images)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "meta.json", "train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy"]
    assert cache.train_images.dtype == np.uint8 and cache.train_labels.dtype == np.int64
    assert cache.train_images.shape == (24, 3, 12, 12) and cache.val_images.shape == (12, 3, 12, 12)
    np.testing.assert_array_equal(cache.train_images, train_images)
    np.testing.assert_array_equal(cache.train_labels, np.repeat(np.arange(4), 6))
    np.testing.assert_array_equal(cache.val_labels, np.repeat(np.arange(4), 3))
    assert not cache.train_images.flags.writeable
    assert meta == cache.meta == json.loads((tmp_path / "meta.json").read_text())
    assert meta["classes"] == ["class00", "class01", "class02", "class03"]
    assert (meta["dataset"], meta["channels"], meta["image_size"]) == ("synthetic", 3, 12)
    assert (meta["n_train"], meta["n_val"], meta["source"]) == (24, 12, "generated")
    np.testing.assert_allclose(meta["mean"], train_images.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(meta["std"], train_images.std(axis=(0, 2, 3)))


def test_synthetic_is_deterministic_per_seed(tmp_path):
    build_cache(SYNTHETIC, tmp_path / "a")
    build_cache(SYNTHETIC, tmp_path / "b")
    other_seed = {**SYNTHETIC, "synthetic": {**SYNTHETIC["synthetic"], "seed": 8}}
    build_cache(other_seed, tmp_path / "c")
    assert cache_files(tmp_path / "a") == cache_files(tmp_path / "b")
    assert (tmp_path / "a/train_images.npy").read_bytes() != (tmp_path / "c/train_images.npy").read_bytes()


def test_synthetic_is_learnable_but_not_trivial():
    cfg = {"kind": "synthetic", "synthetic": {"classes": 10, "train_per_class": 60, "val_per_class": 40,
                                              "image_size": 16, "channels": 3, "seed": 0}}
    dataset = datasets.make_synthetic(cfg)
    images = {}
    for name, split in (("train", dataset.train), ("val", dataset.val)):
        images[name] = np.empty((len(split.labels), *split.image_shape), np.uint8)
        split.write_images(images[name])
    # A nearest-class-mean classifier is a cheap stand-in for a small convnet.
    train = images["train"].reshape(600, -1).astype(float)
    centroids = np.stack([train[dataset.train.labels == k].mean(0) for k in range(10)])
    val = images["val"].reshape(400, -1).astype(float)
    predicted = ((val[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    accuracy = (predicted == dataset.val.labels).mean()
    assert 0.3 < accuracy < 0.9


def test_stale_meta_is_removed_before_rebuilding(tmp_path):
    build_cache(SYNTHETIC, tmp_path)
    with pytest.raises(DataError):
        build_cache({"kind": "imagefolder", "root": str(tmp_path / "nowhere"), "image_size": 8}, tmp_path)
    assert not (tmp_path / "meta.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_load_cache_rejects_truncated_array(tmp_path):
    build_cache(SYNTHETIC, tmp_path)
    path = tmp_path / "train_images.npy"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DataError, match=r"train_images\.npy.*delete it and rerun"):
        load_cache(tmp_path)


def test_load_cache_rejects_shape_disagreeing_with_meta(tmp_path):
    build_cache(SYNTHETIC, tmp_path)
    np.save(tmp_path / "val_labels.npy", np.zeros(5, np.int64))
    with pytest.raises(DataError, match=r"val_labels\.npy.*\(5,\).*\(12,\)"):
        load_cache(tmp_path)


def test_load_cache_rejects_missing_or_corrupt_meta(tmp_path):
    build_cache(SYNTHETIC, tmp_path)
    (tmp_path / "meta.json").write_text('{"dataset": "synth')
    with pytest.raises(DataError, match=r"meta\.json.*delete it and rerun"):
        load_cache(tmp_path)
    (tmp_path / "meta.json").unlink()
    with pytest.raises(DataError, match=r"meta\.json is missing"):
        load_cache(tmp_path)


# ---------------------------------------------------------------- Fashion-MNIST

def write_idx(path: Path, array: np.ndarray) -> None:
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def write_small_fashion_mnist(folder: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, 20, dtype=np.uint8),  # plain file
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 5, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / name, array)
    return arrays


def test_fashion_mnist_small_idx_files(tmp_path):
    arrays = write_small_fashion_mnist(tmp_path / "fm")
    meta = build_cache({"kind": "fashion_mnist", "root": str(tmp_path / "fm")}, tmp_path / "cache")
    cache = load_cache(tmp_path / "cache")
    np.testing.assert_array_equal(cache.train_images[:, 0], arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(cache.train_labels, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(cache.val_images[:, 0], arrays["t10k-images-idx3-ubyte.gz"])
    assert meta["source"] == str(tmp_path / "fm") and meta["classes"][0] == "T-shirt/top"
    assert (meta["channels"], meta["image_size"], meta["n_train"], meta["n_val"]) == (1, 28, 20, 5)


def test_fashion_mnist_resized_to_rgb(tmp_path):
    write_small_fashion_mnist(tmp_path / "fm")
    cfg = {"kind": "fashion_mnist", "root": str(tmp_path / "fm"), "image_size": 14, "channels": 3}
    cache_meta = build_cache(cfg, tmp_path / "cache")
    cache = load_cache(tmp_path / "cache")
    assert cache.train_images.shape == (20, 3, 14, 14) and cache_meta["channels"] == 3
    np.testing.assert_array_equal(cache.train_images[:, 0], cache.train_images[:, 2])  # grey copied


@pytest.mark.parametrize("damage, message", [
    (lambda raw: b"\x00\x00\x08\x01" + raw[4:], "bad magic number"),
    (lambda raw: raw[:-100], "truncated or corrupt"),
])
def test_fashion_mnist_bad_idx_file(tmp_path, damage, message):
    write_small_fashion_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(damage(gzip.decompress(path.read_bytes()))))
    with pytest.raises(DataError, match=message) as error:
        build_cache({"kind": "fashion_mnist", "root": str(tmp_path)}, tmp_path / "cache")
    assert str(path) in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_fashion_mnist_missing_names_every_place(tmp_path, monkeypatch):
    places = [tmp_path / "system", tmp_path / "home"]
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIRS", places)
    with pytest.raises(DataError) as error:
        build_cache({"kind": "fashion_mnist", "root": str(tmp_path / "root")}, tmp_path / "cache")
    message = str(error.value)
    for place in [tmp_path / "root", *places]:
        assert str(place) in message
    assert "apt-get install dataset-fashion-mnist" in message and "dataset.root" in message


def test_fashion_mnist_default_places_include_debian_package():
    assert DEBIAN_FASHION in datasets.FASHION_MNIST_DIRS


@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_real_files(tmp_path):
    meta = build_cache({"kind": "fashion_mnist", "root": None}, tmp_path)
    cache = load_cache(tmp_path)
    assert cache.train_images.shape == (60000, 1, 28, 28) and cache.val_images.shape == (10000, 1, 28, 28)
    assert set(np.unique(cache.train_labels)) == set(range(10)) == set(np.unique(cache.val_labels))
    assert len(meta["classes"]) == 10 and meta["classes"][-1] == "Ankle boot"
    assert meta["mean"][0] == pytest.approx(72.94, abs=0.01)  # the published 0.2860 * 255


# ---------------------------------------------------------------- image folders

def save(path: Path, image: Image.Image, **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)


def make_imagefolder(root: Path) -> None:
    """Two classes given in reverse order, with mixed modes, sizes, formats and junk files."""
    save(root / "train/zebra/b.png", Image.new("RGBA", (20, 10), (255, 0, 0, 128)))
    save(root / "train/zebra/a.JPG", Image.new("L", (7, 9), 100), format="JPEG")
    save(root / "train/apple/p.gif", Image.new("P", (16, 16), 3))
    save(root / "train/apple/c.bmp", Image.new("RGB", (30, 30), (0, 0, 255)))
    save(root / "train/apple/.hidden.png", Image.new("RGB", (4, 4)))
    (root / "train/apple/notes.txt").write_text("not an image")
    save(root / "val/apple/v.tiff", Image.new("CMYK", (8, 8), (0, 0, 0, 0)))
    save(root / "val/zebra/w.webp", Image.new("RGB", (12, 5), (0, 255, 0)))


def test_imagefolder_mixed_formats(tmp_path):
    make_imagefolder(tmp_path / "images")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 16, "channels": 3}
    meta = build_cache(cfg, tmp_path / "cache", workers=2)
    cache = load_cache(tmp_path / "cache")
    assert meta["classes"] == ["apple", "zebra"]
    assert cache.train_images.shape == (4, 3, 16, 16) and cache.val_images.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(cache.train_labels, [0, 0, 1, 1])
    center = cache.train_images[:, :, 8, 8].astype(int)  # files in sorted order: c.bmp, p.gif, a.JPG, b.png
    np.testing.assert_array_equal(center[0], [0, 0, 255])
    assert abs(center[2] - 100).max() <= 2  # greyscale JPEG becomes three equal channels
    np.testing.assert_array_equal(center[3], [255, 0, 0])  # alpha dropped
    np.testing.assert_array_equal(cache.val_images[0, :, 4, 4], [255, 255, 255])  # CMYK white
    assert meta["source"] == str(tmp_path / "images")


def test_imagefolder_greyscale_and_worker_count_do_not_change_bytes(tmp_path, monkeypatch):
    make_imagefolder(tmp_path / "images")
    for i in range(5):  # enough files to span several decode chunks
        save(tmp_path / f"images/train/zebra/x{i}.png", Image.new("L", (9, 9), 10 * i))
    monkeypatch.setattr(datasets, "DECODE_CHUNK", 2)
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8, "channels": 1}
    build_cache(cfg, tmp_path / "one", workers=1)
    build_cache(cfg, tmp_path / "three", workers=3)
    assert cache_files(tmp_path / "one") == cache_files(tmp_path / "three")
    cache = load_cache(tmp_path / "one")
    assert cache.train_images.shape == (9, 1, 8, 8)
    np.testing.assert_array_equal(cache.train_images[4:, 0, 0, 0], [0, 10, 20, 30, 40])


def test_imagefolder_corrupt_image_names_file_and_leaves_no_files(tmp_path):
    make_imagefolder(tmp_path / "images")
    bad = tmp_path / "images/val/zebra/broken.png"  # val is decoded after train, so temps exist
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    with pytest.raises(DataError, match="cannot decode image") as error:
        build_cache(cfg, tmp_path / "cache")
    assert str(bad) in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_imagefolder_truncated_image_is_an_error(tmp_path):
    make_imagefolder(tmp_path / "images")
    good = tmp_path / "images/train/apple/c.bmp"
    good.write_bytes(good.read_bytes()[:200])
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    with pytest.raises(DataError, match="c.bmp"):
        build_cache(cfg, tmp_path / "cache")


def test_imagefolder_missing_val_folder(tmp_path):
    make_imagefolder(tmp_path / "images")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8, "val_dir": "valid"}
    with pytest.raises(DataError, match=r"images/valid not found.*<class>/<images>"):
        build_cache(cfg, tmp_path / "cache")


def test_imagefolder_class_without_val_images(tmp_path):
    make_imagefolder(tmp_path / "images")
    (tmp_path / "images/val/zebra/w.webp").unlink()
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    with pytest.raises(DataError, match=r"val/zebra contains no image files"):
        build_cache(cfg, tmp_path / "cache")


@pytest.mark.parametrize("change, message", [
    (lambda root: (root / "val/zebra/w.webp").unlink() or (root / "val/zebra").rmdir(),
     r"zebra missing in .*val"),
    (lambda root: save(root / "val/mango/m.png", Image.new("RGB", (4, 4))), r"mango in .*val do not exist"),
])
def test_imagefolder_val_classes_must_match_train(tmp_path, change, message):
    make_imagefolder(tmp_path / "images")
    change(tmp_path / "images")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    with pytest.raises(DataError, match=message):
        build_cache(cfg, tmp_path / "cache")


# ---------------------------------------------------------------- CIFAR

CIFAR10_NAMES = [f"name{i}" for i in range(10)]


def cifar_pickle(obj) -> bytes:
    # The published files are Python 2 pickles naming numpy.core.multiarray; mimic that.
    raw = pickle.dumps(obj, protocol=2)
    return raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def fake_cifar_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


def write_cifar10_python(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i in range(1, 6):
        images, labels = fake_cifar_images(2, i)
        (folder / f"data_batch_{i}").write_bytes(cifar_pickle(
            {"batch_label": "training batch", "labels": labels.tolist(), "data": images.reshape(2, -1),
             "filenames": ["a.png", "b.png"]}))
    images, labels = fake_cifar_images(3, 0)
    (folder / "test_batch").write_bytes(cifar_pickle({"labels": labels.tolist(), "data": images.reshape(3, -1)}))
    (folder / "batches.meta").write_bytes(cifar_pickle({"label_names": CIFAR10_NAMES, "num_vis": 3072}))


def write_cifar10_binary(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, n, seed in [*((f"data_batch_{i}.bin", 2, i) for i in range(1, 6)), ("test_batch.bin", 3, 0)]:
        images, labels = fake_cifar_images(n, seed)
        (folder / name).write_bytes(np.hstack([labels[:, None], images.reshape(n, -1)]).astype(np.uint8).tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_NAMES) + "\n\n")


def expected_cifar10_train() -> tuple[np.ndarray, np.ndarray]:
    batches = [fake_cifar_images(2, i) for i in range(1, 6)]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


@pytest.mark.parametrize("write, folder", [(write_cifar10_python, "cifar-10-batches-py"),
                                           (write_cifar10_binary, "cifar-10-batches-bin")])
def test_cifar10_python_and_binary_versions(tmp_path, write, folder):
    write(tmp_path / "cifar" / folder)
    meta = build_cache({"kind": "cifar10", "root": str(tmp_path / "cifar")}, tmp_path / "cache")
    cache = load_cache(tmp_path / "cache")
    images, labels = expected_cifar10_train()
    np.testing.assert_array_equal(cache.train_images, images)
    np.testing.assert_array_equal(cache.train_labels, labels)
    np.testing.assert_array_equal(cache.val_images, fake_cifar_images(3, 0)[0])
    assert meta["classes"] == CIFAR10_NAMES
    assert (meta["n_train"], meta["n_val"], meta["channels"], meta["image_size"]) == (10, 3, 3, 32)
    assert meta["source"] == str(tmp_path / "cifar" / folder)


def test_cifar100_python_and_binary_use_fine_labels(tmp_path):
    fine_names = [f"fine{i:03d}" for i in range(100)]
    images = np.random.default_rng(1).integers(0, 256, (4, 3072), dtype=np.uint8)
    fine, coarse = [5, 99, 0, 42], [1, 19, 0, 3]
    python = tmp_path / "py/cifar-100-python"
    python.mkdir(parents=True)
    for name in ("train", "test"):
        (python / name).write_bytes(cifar_pickle({"data": images, "fine_labels": fine, "coarse_labels": coarse}))
    (python / "meta").write_bytes(cifar_pickle({"fine_label_names": fine_names, "coarse_label_names": ["c"]}))
    binary = tmp_path / "bin/cifar-100-binary"
    binary.mkdir(parents=True)
    for name in ("train.bin", "test.bin"):
        (binary / name).write_bytes(np.hstack([np.array([coarse, fine]).T, images]).astype(np.uint8).tobytes())
    (binary / "fine_label_names.txt").write_text("\n".join(fine_names))
    for version in ("py", "bin"):
        cfg = {"kind": "cifar100", "root": str(tmp_path / version), "image_size": 16, "channels": 1}
        meta = build_cache(cfg, tmp_path / f"cache-{version}")
        cache = load_cache(tmp_path / f"cache-{version}")
        np.testing.assert_array_equal(cache.train_labels, fine)
        assert cache.val_images.shape == (4, 1, 16, 16) and meta["classes"] == fine_names
    assert cache_files(tmp_path / "cache-py")["train_images.npy"] == \
        cache_files(tmp_path / "cache-bin")["train_images.npy"]


class RunsShell:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cifar_unpickler_refuses_code_execution(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10_python(folder)
    marker = tmp_path / "pwned"
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": RunsShell(marker)}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_3 asks to load posix\.system.*refusing"):
        build_cache({"kind": "cifar10", "root": str(tmp_path)}, tmp_path / "cache")
    assert not marker.exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_cifar_truncated_pickle(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10_python(folder)
    (folder / "test_batch").write_bytes((folder / "test_batch").read_bytes()[:300])
    with pytest.raises(DataError, match=r"cannot read .*test_batch"):
        build_cache({"kind": "cifar10", "root": str(tmp_path)}, tmp_path / "cache")


def test_cifar_missing_names_places_and_download_option(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "CIFAR_DIRS", [str(tmp_path / "home/{kind}")])
    with pytest.raises(DataError) as error:
        build_cache({"kind": "cifar10", "root": str(tmp_path / "root")}, tmp_path / "cache")
    message = str(error.value)
    assert str(tmp_path / "root/cifar-10-batches-py") in message
    assert str(tmp_path / "home/cifar10/cifar-10-batches-bin") in message
    assert "dataset.download: true" in message


def test_cifar_failed_download_is_reported(tmp_path, monkeypatch):
    import torchvision.datasets.utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", offline)
    cfg = {"kind": "cifar100", "root": str(tmp_path / "root"), "download": True}
    with pytest.raises(DataError, match=r"downloading cifar100 into .*root failed \(network is unreachable\)"):
        build_cache(cfg, tmp_path / "cache")


def test_unknown_kind(tmp_path):
    with pytest.raises(DataError, match="unknown dataset.kind 'mnist'"):
        build_cache({"kind": "mnist"}, tmp_path)


# ---------------------------------------------------------------- image folders behave like torchvision's ImageFolder

def test_imagefolder_counts_images_in_nested_folders_as_torchvision_does(tmp_path):
    from torchvision.datasets import ImageFolder

    make_imagefolder(tmp_path / "images")
    save(tmp_path / "images/train/zebra/more/deeper/d.png", Image.new("RGB", (8, 8), (1, 2, 3)))
    save(tmp_path / "images/train/apple/sub/e.png", Image.new("RGB", (8, 8), (4, 5, 6)))
    save(tmp_path / "images/train/apple/.cache/hidden.png", Image.new("RGB", (8, 8)))  # hidden folder: left out
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    build_cache(cfg, tmp_path / "cache")
    cache = load_cache(tmp_path / "cache")
    theirs = ImageFolder(str(tmp_path / "images/train"), is_valid_file=lambda p: "/." not in p and
                         Path(p).suffix.lower() in datasets.IMAGE_EXTENSIONS)
    np.testing.assert_array_equal(cache.train_labels, theirs.targets)
    assert len(cache.train_labels) == 6
    np.testing.assert_array_equal(cache.train_images[2, :, 0, 0], [4, 5, 6])  # apple/sub/e.png, after p.gif


def test_imagefolder_16_bit_images_are_scaled_not_clipped(tmp_path):
    make_imagefolder(tmp_path / "images")
    ramp = (np.arange(16 * 16).reshape(16, 16) * 256).astype(np.uint16)  # 0 .. 65280
    save(tmp_path / "images/train/zebra/deep.png", Image.fromarray(ramp))
    assert Image.open(tmp_path / "images/train/zebra/deep.png").mode.startswith("I;16")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 16, "channels": 1}
    build_cache(cfg, tmp_path / "cache")
    decoded = load_cache(tmp_path / "cache").train_images[4, 0].astype(int)  # zebra: a.JPG, b.png, deep.png
    np.testing.assert_allclose(decoded, np.round(ramp / 257), atol=1)
    assert decoded.min() == 0 and 100 < np.median(decoded) < 160


def test_one_run_names_every_unreadable_file_whether_its_header_or_its_body_is_broken(tmp_path):
    """A file whose header is intact but whose body is cut off is found only by the decode: it is named in the
    same error as the files whose header is broken, so one run lists every file to fix."""
    make_imagefolder(tmp_path / "images")
    broken = [tmp_path / "images/train/apple/x.png", tmp_path / "images/train/zebra/y.jpg",
              tmp_path / "images/val/zebra/z.png"]
    for path in broken:
        path.write_bytes(b"not an image at all")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    cut_off = [tmp_path / "images/val/apple/t.png", tmp_path / "images/train/zebra/photo.jpg"]
    save(cut_off[0], noise)
    save(cut_off[1], noise, format="JPEG", quality=95)
    for path in cut_off:  # valid headers: only the decode finds them
        path.write_bytes(path.read_bytes()[:300 if path.suffix == ".png" else 1000])
        Image.open(path).close()
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    with pytest.raises(DataError, match=r"cannot decode images: 5 unreadable file\(s\)") as error:
        build_cache(cfg, tmp_path / "cache")
    for path in broken + cut_off:
        assert str(path) in str(error.value)
    assert "\n" not in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_cache_log_counts_each_class_and_names_every_skipped_file_with_why(tmp_path):
    """Valid images named .heic or .jfif were left out without a word, and the log's only line was the total."""
    root = tmp_path / "images"
    make_imagefolder(root)  # with train/apple/.hidden.png and train/apple/notes.txt
    save(root / "train/apple/photo.heic", Image.new("RGB", (8, 8)), format="JPEG")
    save(root / "train/zebra/pic.jfif", Image.new("RGB", (8, 8)), format="JPEG")
    save(root / "train/zebra/.thumbs/t.png", Image.new("RGB", (8, 8)))  # in a hidden folder
    (root / "val/zebra/.DS_Store").write_bytes(b"\0\0\0\1Bud1")
    lines = []
    build_cache({"kind": "imagefolder", "root": str(root), "image_size": 8}, tmp_path / "cache", log=lines.append)
    summary = [line for line in lines if not line.startswith("  ")]  # what the console shows; the rest: the log's
    assert "train: 4 images of 2 classes: apple 2, zebra 2" in summary
    assert "val: 2 images of 2 classes: apple 1, zebra 1" in summary
    skipped = next(line for line in summary if line.startswith("skipped"))
    assert skipped.startswith("skipped 6 file(s) below the class folders: 3 by their extension (.heic 1, .jfif 1, "
                              ".txt 1), 3 hidden (a name starting with '.'); first: ")
    assert "train/apple/.hidden.png" in skipped and "\n" not in skipped
    details = [line for line in lines if line.startswith("  ")]
    for name, why in [("train/apple/photo.heic", "extension .heic"), ("train/zebra/pic.jfif", "extension .jfif"),
                      ("train/apple/notes.txt", "extension .txt"), ("train/apple/.hidden.png", "hidden"),
                      ("train/zebra/.thumbs/t.png", "hidden"), ("val/zebra/.DS_Store", "hidden")]:
        assert f"  skipped {name}: {why}" in details


def test_a_data_set_of_many_classes_is_summed_up_in_one_line(tmp_path):
    cfg = {"kind": "synthetic", "synthetic": {**SYNTHETIC["synthetic"], "classes": 30}}
    lines = []
    build_cache(cfg, tmp_path, log=lines.append)
    summary = [line for line in lines if not line.startswith("  ")]
    assert "train: 180 images of 30 classes, 6 to 6 a class (fewest: class00 6, class01 6, class02 6); " \
           "each class's count in the log" in summary
    assert "  train class29: 6" in lines and not [line for line in summary if line.startswith("skipped")]


def three_bands(root: Path) -> Image.Image:
    """A 24 x 8 image of three 8 px bands, red, green and blue, as each class's one image."""
    bands = np.zeros((8, 24, 3), np.uint8)
    for i in range(3):
        bands[:, 8 * i:8 * (i + 1), i] = 255
    image = Image.fromarray(bands)
    for part in ("train", "val"):
        for name in ("a", "b"):
            save(root / part / name / "bands.png", image)
    return image


def test_non_square_images_are_squashed_by_default_or_resized_and_centre_cropped_as_torchvision_does(tmp_path):
    from torchvision.transforms import v2

    image = three_bands(tmp_path / "images")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    build_cache(cfg, tmp_path / "squash")
    squashed = load_cache(tmp_path / "squash").train_images[0]
    assert (squashed[:, :, 0] == [[255] * 8, [0] * 8, [0] * 8]).all()  # every band kept, narrowed to a third
    assert (squashed[:, :, 7] == [[0] * 8, [0] * 8, [255] * 8]).all()
    build_cache({**cfg, "resize": "squash"}, tmp_path / "named")
    assert cache_files(tmp_path / "named") == cache_files(tmp_path / "squash")

    build_cache({**cfg, "resize": "center_crop"}, tmp_path / "crop")
    cropped = load_cache(tmp_path / "crop").train_images[0]
    theirs = np.asarray(v2.Compose([v2.Resize(8), v2.CenterCrop(8)])(image)).transpose(2, 0, 1)
    np.testing.assert_array_equal(cropped, theirs)
    assert (cropped[1] == 255).all() and (cropped[[0, 2]] == 0).all()  # the middle band only


def test_the_resize_mode_is_part_of_the_cache_identity_and_squash_keeps_existing_caches(tmp_path):
    """A cache of another resize mode is another cache; the default leaves the folder of existing caches as it was."""
    dataset = {"kind": "imagefolder", "root": "data/pets", "image_size": 64}
    before = "imagefolder-" + hashlib.sha256(json.dumps(
        {"kind": "imagefolder", "root": "data/pets", "image_size": 64}, sort_keys=True).encode()).hexdigest()[:10]
    assert layout.dataset_key(dataset) == layout.dataset_key({**dataset, "resize": "squash"}) == before
    assert layout.dataset_key({**dataset, "resize": "center_crop"}) != before
    (tmp_path / "crop.yaml").write_text(json.dumps({"dataset": {**dataset, "resize": "center_crop"}}))
    assert load_config(tmp_path / "crop.yaml")["dataset"]["resize"] == "center_crop"
    (tmp_path / "stretch.yaml").write_text(json.dumps({"dataset": {**dataset, "resize": "stretch"}}))
    with pytest.raises(ValueError, match="config key dataset.resize = 'stretch' is not allowed; allowed values: "
                                         "squash, center_crop"):
        load_config(tmp_path / "stretch.yaml")


def test_unreadable_files_past_twenty_are_counted(tmp_path):
    make_imagefolder(tmp_path / "images")
    for i in range(25):
        (tmp_path / f"images/train/apple/bad{i:02d}.png").write_bytes(b"")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    with pytest.raises(DataError, match=r"25 unreadable file\(s\).*bad19.png.*; and 5 more") as error:
        build_cache(cfg, tmp_path / "cache")
    assert "bad20.png" not in str(error.value)


# ---------------------------------------------------------------- the cache follows the data

EDITS = {
    "add": lambda root: save(root / "train/apple/new.png", Image.new("RGB", (5, 5))),
    "remove": lambda root: (root / "train/zebra/b.png").unlink(),
    "replace": lambda root: save(root / "val/apple/v.tiff", Image.new("RGB", (8, 8), (9, 9, 9)), format="TIFF"),
    "nested-add": lambda root: save(root / "train/zebra/sub/n.png", Image.new("RGB", (5, 5))),
    "rename-class": lambda root: [(root / s / "zebra").rename(root / s / "zebu") for s in ("train", "val")],
}


@pytest.mark.parametrize("edit", EDITS)
def test_source_fingerprint_changes_with_every_edit_of_the_folder(tmp_path, edit):
    make_imagefolder(tmp_path / "images")
    cfg = {"kind": "imagefolder", "root": str(tmp_path / "images"), "image_size": 8}
    before = datasets.source_fingerprint(cfg)
    assert datasets.source_fingerprint(cfg) == before  # nothing changed: the same
    touched_file = tmp_path / "images/train/zebra/a.JPG"
    later = touched_file.stat().st_mtime_ns + 1_000_000_000  # set, not the clock's: mtimes are coarse
    os.utime(touched_file, ns=(later, later))  # touched: its time changes, so must the fingerprint
    touched = datasets.source_fingerprint(cfg)
    assert touched != before
    EDITS[edit](tmp_path / "images")
    assert datasets.source_fingerprint(cfg) != touched


def test_source_fingerprint_of_fashion_mnist_and_missing_data(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIRS", [tmp_path / "nowhere"])
    missing = datasets.source_fingerprint({"kind": "fashion_mnist"})
    assert missing.startswith("unavailable: Fashion-MNIST files")
    write_small_fashion_mnist(tmp_path / "fm")
    found = datasets.source_fingerprint({"kind": "fashion_mnist", "root": str(tmp_path / "fm")})
    assert found.startswith("4 files")


def test_the_cache_fingerprint_follows_the_bytes(tmp_path):
    first = build_cache(SYNTHETIC, tmp_path / "one")
    again = build_cache(SYNTHETIC, tmp_path / "two")
    other = build_cache({**SYNTHETIC, "synthetic": {**SYNTHETIC["synthetic"], "seed": 8}}, tmp_path / "three")
    assert first["fingerprint"] == again["fingerprint"] != other["fingerprint"]


def test_the_schema_offers_exactly_the_kinds_there_are_readers_for():
    import yaml
    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    assert schema["properties"]["dataset"]["properties"]["kind"]["enum"] == list(datasets.KINDS)
