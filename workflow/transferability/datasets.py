"""Readers that turn each supported data set into uint8 (N, C, H, W) images and int64 labels.

Every reader returns a `Dataset` whose splits know their shape up front and fill a
caller-provided array, so the cache writer can hand them a memory-mapped file and an
ImageNet-size folder never has to fit in RAM.

Resizing (imagefolder always; Fashion-MNIST/CIFAR only when image_size differs from the
native size) uses PIL's bilinear filter, which widens its support when shrinking, i.e. it is
antialiased. A non-square image is squashed to image_size x image_size (dataset.resize: squash,
the default) or, with center_crop, resized on its short side and centre-cropped by torchvision.  Channel conversion uses
PIL's convert("L") (ITU-R 601-2 luma) or convert("RGB"); an alpha channel is dropped.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import pickle
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from numpy._core.multiarray import _reconstruct as numpy_reconstruct
from PIL import Image

from .splits import MIN_CLASSES_PER_HALF


class DataError(Exception):
    """Bad or missing input data; message is one clear line for the user."""


@dataclass
class Split:
    labels: np.ndarray                          # int64 (N,)
    image_shape: tuple[int, int, int]           # (C, H, W)
    write_images: Callable[[np.ndarray], None]  # fills a (N, C, H, W) uint8 array in place


@dataclass
class Dataset:
    classes: list[str]
    source: str  # resolved folder the data came from, or "generated"
    train: Split
    val: Split
    # Files found unreadable before the decode (their header): reported with those the decode finds, in one error
    unreadable: list[str] = field(default_factory=list)
    # (path below the data set's folder, why) of each file below a class folder that is not read as an image
    skipped: list[tuple[str, str]] = field(default_factory=list)


def in_memory_split(images: np.ndarray, labels: np.ndarray) -> Split:
    def write(dest: np.ndarray) -> None:
        dest[...] = images
    return Split(np.asarray(labels, np.int64), tuple(images.shape[1:]), write)


def read_dataset(cfg: dict, workers: int | None = None) -> Dataset:
    return _kind(cfg).read(cfg, workers or os.cpu_count() or 1)


UNAVAILABLE = "unavailable: "  # how source_fingerprint begins for data not found (yet)


def source_fingerprint(cfg: dict) -> str:
    """A cheap fingerprint of the files the cache is decoded from: their paths, sizes and modification
    times (as make and rsync compare files), not their contents. Any added, removed, replaced or edited
    file changes it; the workflow rebuilds the cache when it changes. Data that cannot be found gives
    a fingerprint naming why, so the cache job runs and reports it."""
    try:
        files = _kind(cfg).source_files(cfg)
    except DataError as error:
        return f"{UNAVAILABLE}{error}"
    digest = hashlib.sha256()
    for path in files:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return f"{len(files)} files, sha256 {digest.hexdigest()[:32]}"


SPLIT_CLASSES = 2 * MIN_CLASSES_PER_HALF  # the fewest classes a split can use: two halves of two


def check_class_count(cfg: dict) -> None:
    """Refuse a data set of too few classes for any split, where the config or a folder listing tells its
    classes without a decode (image folders, synthetic data): cheap enough for every start of the workflow."""
    found = _classes_known_before_decoding(cfg)
    if found and found[0] < SPLIT_CLASSES:
        raise DataError(f"{found[1]}: too few classes for a split into halves A and B of at least "
                        f"{MIN_CLASSES_PER_HALF} classes each; give at least {SPLIT_CLASSES} classes")


def _classes_known_before_decoding(cfg: dict) -> tuple[int, str] | None:
    """(number of classes, what tells it) without a decode; None where only the data can tell, or where an
    image folder is not there (the cache job reports that, with the layout it expects)."""
    if cfg.get("kind") == "synthetic":
        count = (cfg.get("synthetic") or {}).get("classes", 10)
        return count, f"dataset.synthetic.classes = {count}"
    train = Path(cfg.get("root") or "").expanduser().absolute() / "train"
    if cfg.get("kind") != "imagefolder" or not cfg.get("root") or not train.is_dir():
        return None
    classes = _visible_subfolders(train)
    return len(classes), f"{train} has {len(classes)} class folder(s) ({', '.join(classes) or 'none'})"


@dataclass(frozen=True)
class Kind:
    read: Callable[[dict, int], "Dataset"]  # (dataset config, decoding threads) -> Dataset
    source_files: Callable[[dict], list]  # the paths of the files read, for source_fingerprint


def _kind(cfg: dict) -> Kind:
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise DataError(f"unknown dataset.kind {kind!r}; use one of {', '.join(KINDS)}")
    return KINDS[kind]


# ---------------------------------------------------------------- shared image conversion

RESIZE_MODES = ("squash", "center_crop")  # dataset.resize (the schema's enum)


def convert_image(img: Image.Image, channels: int, size: int, resize: str = "squash") -> np.ndarray:
    """PIL image of any mode -> uint8 (channels, size, size), squashed or centre-cropped (`resize`)."""
    if img.mode.startswith("I"):  # 16-bit greyscale (PNG, TIFF): PIL's convert("L") would clip it to white
        img = Image.fromarray(np.round(np.asarray(img, np.float64) / 257).clip(0, 255).astype(np.uint8))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # PIL asks for this before dropping palette transparency
    img = img.convert("L" if channels == 1 else "RGB")
    if resize == "center_crop" and img.size[0] != img.size[1]:
        img = _short_side_and_centre_crop(img, size)
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _short_side_and_centre_crop(img: Image.Image, size: int) -> Image.Image:
    """torchvision's Resize(size) then CenterCrop(size), on the PIL image (bilinear, as PIL antialiased)."""
    from torchvision.transforms.v2 import functional  # imported here: only cropped image folders need it

    return functional.center_crop(functional.resize(img, [size]), [size, size])


def conform(images: np.ndarray, channels: int | None, size: int | None) -> np.ndarray:
    """Native (N, C, H, W) images -> configured channels and size (None keeps the native one)."""
    n, native_c, native_h, _ = images.shape
    channels, size = channels or native_c, size or native_h
    if (channels, size) == (native_c, native_h):
        return images
    out = np.empty((n, channels, size, size), np.uint8)
    for i, chw in enumerate(images):
        hwc = chw[0] if native_c == 1 else chw.transpose(1, 2, 0)
        out[i] = convert_image(Image.fromarray(hwc), channels, size)
    return out


def search_message(what: str, places: list[Path], how: str) -> str:
    return f"{what} not found; looked in: {', '.join(str(p) for p in places)}. {how}"


# ---------------------------------------------------------------- Fashion-MNIST

FASHION_MNIST_DIRS = [Path("/usr/share/datasets/fashion-mnist"), Path("~/.cache/fashion-mnist"),
                      Path("data/fashion-mnist")]  # searched after dataset.root; last is cwd-relative
FASHION_MNIST_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
                       "val_images": "t10k-images-idx3-ubyte", "val_labels": "t10k-labels-idx1-ubyte"}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_fashion_mnist(cfg: dict, workers: int = 1) -> Dataset:
    return _fashion_mnist_from(*_find_fashion_mnist(cfg), cfg)


def _find_fashion_mnist(cfg: dict) -> tuple[Path, dict[str, Path]]:
    places = [Path(cfg["root"])] if cfg.get("root") else []
    places += FASHION_MNIST_DIRS
    places = [p.expanduser().absolute() for p in places]
    for folder in places:
        files = {key: _plain_or_gz(folder / name) for key, name in FASHION_MNIST_FILES.items()}
        if all(files.values()):
            return folder, files
    raise DataError(search_message(
        "Fashion-MNIST files (" + ", ".join(FASHION_MNIST_FILES.values()) + ", plain or .gz)", places,
        "apt-get install dataset-fashion-mnist, or download the four IDX files from the Fashion-MNIST "
        "GitHub repo into one of these folders, or set dataset.root"))


def _plain_or_gz(path: Path) -> Path | None:
    gz = path.with_name(path.name + ".gz")
    return path if path.is_file() else gz if gz.is_file() else None


def _fashion_mnist_from(folder: Path, files: dict[str, Path], cfg: dict) -> Dataset:
    splits = []
    for split in ("train", "val"):
        images = read_idx(files[f"{split}_images"], ndim=3)
        labels = read_idx(files[f"{split}_labels"], ndim=1)
        if len(images) != len(labels) or labels.max(initial=0) >= len(FASHION_MNIST_CLASSES):
            raise DataError(f"{files[f'{split}_labels']} does not match {files[f'{split}_images']} "
                            "(count or label range); delete both and download them again")
        images = conform(images[:, None], cfg.get("channels"), cfg.get("image_size"))
        splits.append(in_memory_split(images, labels))
    return Dataset(list(FASHION_MNIST_CLASSES), str(folder), *splits)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), gzipped or plain."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path} ({e}); delete it and download it again") from e
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, 0x08, ndim]):
        raise DataError(f"{path} is not an IDX file of {ndim}-dimensional unsigned bytes "
                        "(bad magic number); delete it and download it again")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != np.prod(dims):
        raise DataError(f"{path} is truncated or corrupt: header says {dims} but it holds "
                        f"{len(raw) - header} bytes; delete it and download it again")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


# ---------------------------------------------------------------- image folders

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
DECODE_CHUNK = 1024  # bounds the number of queued decode tasks for very large folders
LISTED_PROBLEMS = 20  # unreadable files named in the error; the rest are counted


def read_imagefolder(cfg: dict, workers: int) -> Dataset:
    """root/train/<class>/** and root/<val_dir>/<class>/**, as torchvision's ImageFolder lists them:
    classes are the sorted folder names, images anywhere below a class folder belong to it. Every
    file's header is read before the long decode; files it cannot open are left out of the decode and
    named with those the decode finds (a cut-off body), so one run names every unreadable file."""
    root, val_name, classes = _imagefolder_layout(cfg)
    skipped = []
    listed = {name: _list_images(root / name, classes, skipped) for name in ("train", val_name)}
    unreadable = _unreadable_headers([path for files in listed.values() for path, _ in files], workers)
    shape = (cfg.get("channels") or 3, cfg["image_size"], cfg["image_size"])
    resize = _resize_mode(cfg)
    train, val = (_folder_split(files, shape, workers, set(unreadable), resize) for files in listed.values())
    below_root = len(str(root)) + 1
    return Dataset(classes, str(root), train, val, unreadable=list(unreadable.values()),
                   skipped=sorted((path[below_root:], why) for path, why in skipped))


def imagefolder_files(cfg: dict) -> list[str]:
    root, val_name, classes = _imagefolder_layout(cfg)  # strings: a Path per file would triple the cost
    return [path for name in ("train", val_name) for path, _ in _list_images(root / name, classes)]


def _imagefolder_layout(cfg: dict) -> tuple[Path, str, list[str]]:
    if not cfg.get("root"):
        raise DataError("dataset.root must be set for an imagefolder data set")
    root = Path(cfg["root"]).expanduser().absolute()
    val_name = cfg.get("val_dir") or "val"
    layout = f"expected {root}/train/<class>/<images> and {root}/{val_name}/<class>/<images>"
    if not cfg.get("image_size"):
        raise DataError("dataset.image_size must be set for an imagefolder data set")
    for folder in (root, root / "train", root / val_name):
        if not folder.is_dir():
            raise DataError(f"folder {folder} not found; {layout}")
    classes = _visible_subfolders(root / "train")
    if not classes:
        raise DataError(f"no class folders in {root / 'train'}; {layout}")
    _check_same_classes(classes, _visible_subfolders(root / val_name), root / val_name)
    return root, val_name, classes


def _visible_subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_same_classes(train_classes: list[str], val_classes: list[str], val_dir: Path) -> None:
    missing = sorted(set(train_classes) - set(val_classes))
    unknown = sorted(set(val_classes) - set(train_classes))
    if missing:
        raise DataError(f"class folder(s) {', '.join(missing)} missing in {val_dir}; "
                        "train and validation need the same class folders")
    if unknown:
        raise DataError(f"class folder(s) {', '.join(unknown)} in {val_dir} do not exist in train")


def _list_images(folder: Path, classes: list[str], skipped: list | None = None) -> list[tuple[str, int]]:
    """(path, label) of every image below each class folder, in torchvision's order (make_dataset:
    sorted walk, symlinks followed); hidden files and folders are left out. Each file left out is added to
    `skipped` as (path, why), for the cache job's log."""
    from torchvision.datasets.folder import make_dataset  # imported here: only image folders need it

    below = len(str(folder))
    skipped = [] if skipped is None else skipped

    def is_image(path: str) -> bool:  # string operations: called once per file of an ImageNet-size folder
        extension = os.path.splitext(path)[1].lower()
        if f"{os.sep}." in path[below:]:
            skipped.append((path, "hidden"))
        elif extension not in IMAGE_EXTENSIONS:
            skipped.append((path, f"extension {extension or '(none)'}"))
        else:
            return True
        return False

    files = make_dataset(str(folder), {name: i for i, name in enumerate(classes)}, is_valid_file=is_image,
                         allow_empty=True)
    empty = [str(folder / name) for name in sorted(set(classes) - {classes[label] for _, label in files})]
    if empty:
        which = f"class folder {empty[0]} contains" if len(empty) == 1 else f"class folders {', '.join(empty)} contain"
        raise DataError(f"{which} no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


# ---------------------------------------------------------------- what the cache job's log says

SHOWN_CLASSES = 10  # a split's classes counted one by one on the console; more are summed up, the log has each
SHOWN_SKIPPED = 5  # skipped files named on the console; the log names every one


def listing_lines(dataset: Dataset) -> list[str]:
    """What the data set holds and what was left out, before the decode. Lines indented by two spaces are
    details for the cache job's log (every class's count, every skipped file); the others are for the console."""
    lines = []
    for name, split in (("train", dataset.train), ("val", dataset.val)):
        lines += _class_count_lines(name, dataset.classes, np.bincount(split.labels, minlength=len(dataset.classes)))
    if dataset.skipped:
        lines.append(_skipped_line(dataset.skipped))
        lines += [f"  skipped {path}: {why}" for path, why in dataset.skipped]
    return lines


def _class_count_lines(split: str, classes: list[str], counts: np.ndarray) -> list[str]:
    head = f"{split}: {counts.sum()} images of {len(classes)} classes"
    if len(classes) <= SHOWN_CLASSES:
        return [f"{head}: " + ", ".join(f"{name} {n}" for name, n in zip(classes, counts))]
    fewest = ", ".join(f"{classes[i]} {counts[i]}" for i in np.argsort(counts, kind="stable")[:3])
    return [f"{head}, {counts.min()} to {counts.max()} a class (fewest: {fewest}); each class's count in the log",
            *(f"  {split} {name}: {n}" for name, n in zip(classes, counts))]


def _skipped_line(skipped: list[tuple[str, str]]) -> str:
    """One line: how many files were skipped for each reason, and the first few of them."""
    extensions = {}
    for _, why in skipped:
        if why.startswith("extension "):
            extension = why.removeprefix("extension ")
            extensions[extension] = extensions.get(extension, 0) + 1
    hidden = len(skipped) - sum(extensions.values())
    reasons = []
    if extensions:
        by_extension = ", ".join(f"{ext} {n}" for ext, n in sorted(extensions.items()))
        reasons.append(f"{sum(extensions.values())} by their extension ({by_extension})")
    if hidden:
        reasons.append(f"{hidden} hidden (a name starting with '.')")
    first = ", ".join(path for path, _ in skipped[:SHOWN_SKIPPED]) + (", ..." if len(skipped) > SHOWN_SKIPPED else "")
    return (f"skipped {len(skipped)} file(s) below the class folders: {', '.join(reasons)}; first: {first}; "
            f"every one in the log; images are read with the extensions {', '.join(sorted(IMAGE_EXTENSIONS))}")


def _resize_mode(cfg: dict) -> str:
    resize = cfg.get("resize") or "squash"  # left out of the cache job's dataset where it is the default
    if resize not in RESIZE_MODES:
        raise DataError(f"unknown dataset.resize {resize!r}; use one of {', '.join(RESIZE_MODES)}")
    return resize


def _folder_split(files: list[tuple[str, int]], shape: tuple, workers: int, unreadable: set[str],
                  resize: str) -> Split:
    labels = np.array([label for _, label in files], np.int64)
    paths = [Path(path) for path, _ in files]
    decode = partial(_decode_into, files=paths, workers=workers, skip=unreadable, resize=resize)
    return Split(labels, shape, decode)


def _unreadable_headers(files: list[str], workers: int) -> dict[str, str]:
    """{path: problem} of the files PIL cannot open (it reads the header only): a fraction of a decode's cost."""
    def problem(path: str) -> str | None:
        try:
            with Image.open(path):
                return None
        except Exception as e:  # PIL raises many types for broken files; all mean "unreadable"
            return f"{path} ({_one_line(e)})"

    with ThreadPoolExecutor(workers) as pool:
        found = pool.map(problem, files, chunksize=256)
        return {path: p for path, p in zip(files, found) if p}


def _decode_into(dest: np.ndarray, files: list[Path], workers: int, skip: set[str] = frozenset(),
                 resize: str = "squash") -> list[str]:
    """Decode every file into its row of dest; returns the problems (files that could not be decoded).
    Files in `skip` (already found unreadable) are left as zeros: the cache is not written anyway."""
    channels, size, _ = dest.shape[1:]
    problems = []

    def decode(i: int) -> None:  # each task owns row i, so the order is deterministic
        if str(files[i]) in skip:
            return
        try:
            dest[i] = load_image(files[i], channels, size, resize)
        except DataError as e:
            problems.append(str(e))

    with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while decoding and resizing
        for start in range(0, len(files), DECODE_CHUNK):
            list(pool.map(decode, range(start, min(start + DECODE_CHUNK, len(files)))))
    return sorted(problems)


def load_image(path: Path, channels: int, size: int, resize: str = "squash") -> np.ndarray:
    try:
        with Image.open(path) as img:
            # JPEGs can decode at 1/2, 1/4 or 1/8 scale (not below size): much faster for big photos.
            img.draft("L" if channels == 1 else "RGB", (size, size))
            return convert_image(img, channels, size, resize)
    except Exception as e:  # PIL raises many types for broken files; all mean "unreadable"
        raise DataError(f"{path} ({_one_line(e)})") from e


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def raise_problems(problems: list[str]) -> None:
    """One line naming every unreadable file (the first LISTED_PROBLEMS, then a count)."""
    if not problems:
        return
    shown = "; ".join(problems[:LISTED_PROBLEMS])
    more = f"; and {len(problems) - LISTED_PROBLEMS} more" if len(problems) > LISTED_PROBLEMS else ""
    raise DataError(f"cannot decode images: {len(problems)} unreadable file(s): {shown}{more}; "
                    "fix or remove them and rerun")


# ---------------------------------------------------------------- synthetic

def make_synthetic(cfg: dict, workers: int = 1) -> Dataset:
    """Per class a smooth random template; images are it, randomly shifted, rescaled and noisy.

    A shared component makes classes similar, so a small convnet learns them over a few
    epochs instead of instantly.
    """
    syn = cfg.get("synthetic") or {}
    k, seed = syn.get("classes", 10), syn.get("seed", 0)
    size = syn.get("image_size") or cfg.get("image_size") or 32
    channels = syn.get("channels") or cfg.get("channels") or 3
    shift = max(1, size // 8)
    rng = np.random.default_rng([seed, 0])
    common = _smooth_noise(rng, (1, channels), size + 2 * shift)
    templates = 0.6 * common + 0.3 * _smooth_noise(rng, (k, channels), size + 2 * shift)
    splits = [_synthetic_split(templates, syn.get(f"{split}_per_class", n), size, shift,
                               np.random.default_rng([seed, i + 1]))
              for i, (split, n) in enumerate([("train", 100), ("val", 20)])]
    return Dataset([f"class{i:02d}" for i in range(k)], "generated", *splits)


def _smooth_noise(rng: np.random.Generator, lead: tuple, size: int, grid: int = 5) -> np.ndarray:
    """Unit-variance random values on a grid x grid lattice, bilinearly upsampled to size x size."""
    lattice = rng.standard_normal((*lead, grid, grid))
    up = np.stack([np.interp(np.linspace(0, grid - 1, size), np.arange(grid), row) for row in np.eye(grid)], 1)
    return np.einsum("hi,...ij,wj->...hw", up, lattice, up)


def _synthetic_split(templates: np.ndarray, per_class: int, size: int, shift: int,
                     rng: np.random.Generator) -> Split:
    k, c = templates.shape[:2]
    labels = np.repeat(np.arange(k), per_class)
    images = np.empty((len(labels), c, size, size), np.uint8)
    for i, label in enumerate(labels):
        dy, dx = rng.integers(0, 2 * shift + 1, size=2)
        pattern = templates[label, :, dy:dy + size, dx:dx + size] * rng.uniform(0.6, 1.4)
        noisy = pattern + rng.uniform(-0.5, 0.5) + rng.normal(0, 1.0, pattern.shape)
        images[i] = np.clip(128 + 45 * noisy, 0, 255).round()
    return in_memory_split(images, labels)


# ---------------------------------------------------------------- CIFAR-10 / CIFAR-100

@dataclass(frozen=True)
class CifarFormat:
    folder: str
    train: tuple[str, ...]
    val: str
    names: str          # meta pickle (python version) or label-name text file (binary version)
    names_key: str      # key of the class names in the meta pickle
    labels_key: str     # key of the labels in a batch pickle
    header: int = 0     # binary version: label bytes before each image
    label_byte: int = 0  # binary version: which of them is the label we use


CIFAR_FORMATS = {
    "cifar10": [
        CifarFormat("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch",
                    "batches.meta", "label_names", "labels"),
        CifarFormat("cifar-10-batches-bin", tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                    "test_batch.bin", "batches.meta.txt", "", "", header=1, label_byte=0)],
    "cifar100": [
        CifarFormat("cifar-100-python", ("train",), "test", "meta", "fine_label_names", "fine_labels"),
        CifarFormat("cifar-100-binary", ("train.bin",), "test.bin", "fine_label_names.txt", "", "",
                    header=2, label_byte=1)],
}
CIFAR_DIRS = ["data/{kind}", "~/.cache/{kind}"]  # searched after dataset.root; first is cwd-relative
CIFAR_PIXELS = 3 * 32 * 32


def read_cifar(cfg: dict, workers: int = 1) -> Dataset:
    folder, fmt = _located_cifar(cfg)
    read = _read_cifar_python if fmt.header == 0 else _read_cifar_binary
    classes, train, val = read(folder, fmt)
    splits = [in_memory_split(conform(images, cfg.get("channels"), cfg.get("image_size")), labels)
              for images, labels in (train, val)]
    return Dataset(classes, str(folder), *splits)


def cifar_files(cfg: dict) -> list[Path]:
    folder, fmt = _located_cifar(cfg, download=False)
    return [folder / name for name in (*fmt.train, fmt.val, fmt.names)]


def _located_cifar(cfg: dict, download: bool = True) -> tuple[Path, "CifarFormat"]:
    kind = cfg["kind"]
    bases = [Path(cfg["root"])] if cfg.get("root") else []
    bases = [p.expanduser().absolute() for p in bases + [Path(d.format(kind=kind)) for d in CIFAR_DIRS]]
    found = _find_cifar(kind, bases)
    if found is None and download and cfg.get("download"):
        _download_cifar(kind, bases[0])
        found = _find_cifar(kind, bases[:1])
    if found is None:
        places = [b / f.folder for b in bases for f in CIFAR_FORMATS[kind]]
        raise DataError(search_message(
            f"{kind} files", places, "Extract the python or binary version from the CIFAR web page into "
            "one of these folders, set dataset.root to the folder holding it, or set dataset.download: true"))
    return found


def _find_cifar(kind: str, bases: list[Path]) -> tuple[Path, CifarFormat] | None:
    for base in bases:
        for fmt in CIFAR_FORMATS[kind]:
            for folder in (base / fmt.folder, base):  # root may also point at the batches folder itself
                if all((folder / name).is_file() for name in (*fmt.train, fmt.val, fmt.names)):
                    return folder, fmt
    return None


def _download_cifar(kind: str, target: Path) -> None:
    # Only torchvision's verified download; its CIFAR classes would unpickle the files unrestricted.
    from torchvision.datasets import CIFAR10, CIFAR100
    from torchvision.datasets.utils import download_and_extract_archive
    source = CIFAR10 if kind == "cifar10" else CIFAR100
    try:
        download_and_extract_archive(source.url, str(target), filename=source.filename, md5=source.tgz_md5)
    except Exception as e:  # offline, proxy, disk full, bad checksum: all end the same way
        raise DataError(f"downloading {kind} into {target} failed ({e}); put the files there by hand "
                        "or set dataset.root") from e


def _cifar_labels(labels, n: int, n_classes: int, path: Path) -> np.ndarray:
    labels = np.asarray(labels, np.int64)
    if labels.shape != (n,) or (n and not 0 <= labels.min() <= labels.max() < n_classes):
        raise DataError(f"{path} has labels that do not match its images; delete it and download it again")
    return labels


def _read_cifar_binary(folder: Path, fmt: CifarFormat):
    classes = [line.strip() for line in (folder / fmt.names).read_text().splitlines() if line.strip()]

    def read(names) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for name in names:
            raw = np.fromfile(folder / name, np.uint8)
            if raw.size % (fmt.header + CIFAR_PIXELS):
                raise DataError(f"{folder / name} is truncated or corrupt (size is not a whole number "
                                "of records); delete it and download it again")
            records = raw.reshape(-1, fmt.header + CIFAR_PIXELS)
            images.append(records[:, fmt.header:].reshape(-1, 3, 32, 32))
            labels.append(_cifar_labels(records[:, fmt.label_byte], len(records), len(classes), folder / name))
        return np.concatenate(images), np.concatenate(labels)
    return classes, read(fmt.train), read([fmt.val])


def _read_cifar_python(folder: Path, fmt: CifarFormat):
    classes = [str(name) for name in load_cifar_pickle(folder / fmt.names)[fmt.names_key]]

    def read(names) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for name in names:
            batch = load_cifar_pickle(folder / name)
            data = batch.get("data")
            if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                    and data.shape[1] == CIFAR_PIXELS):
                raise DataError(f"{folder / name} holds no uint8 (N, {CIFAR_PIXELS}) 'data' array; "
                                "delete it and download it again")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(_cifar_labels(batch.get(fmt.labels_key), len(data), len(classes), folder / name))
        return np.concatenate(images), np.concatenate(labels)
    return classes, read(fmt.train), read([fmt.val])


_PICKLE_ALLOWED = {  # everything a CIFAR batch (a dict of lists, strings and one ndarray) needs
    ("numpy.core.multiarray", "_reconstruct"): numpy_reconstruct,  # name in the original files
    ("numpy._core.multiarray", "_reconstruct"): numpy_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3's protocol 2 stores bytes
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays, so a tampered file cannot run code.

    Kept instead of torchvision.datasets.CIFAR10/100 (which check each file's md5 against the published
    one, then pickle.load it): those read neither the binary versions (read here too) nor any file but the
    published ones byte for byte, so the tests' small CIFAR-shaped files (tests/test_data.py) could not
    exercise them, and an unreadable file gets "Dataset not found or corrupted" instead of its name. Not
    slower: on five CIFAR-10-sized batches this unpickler took 1.41 s, pickle.load 1.37 s and the md5s
    0.65 s (benchmarks/library_check.py, one run): 0.70x torchvision's check and read."""

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="latin1")  # the files are Python 2 pickles
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise DataError(f"{self.path} asks to load {module}.{name}, which a CIFAR file never needs; "
                            "refusing to unpickle it - delete it and download it again") from None


def load_cifar_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, path).load()
    except DataError:
        raise
    except Exception as e:  # truncated or garbled pickles fail in many ways
        raise DataError(f"cannot read {path} ({type(e).__name__}: {e}); delete it and download it again") from e
    if not isinstance(batch, dict):
        raise DataError(f"{path} is not a CIFAR pickle (no dict inside); delete it and download it again")
    return batch


# dataset.kind -> its reader and the files it reads (the schema's enum is checked against this table)
KINDS = {
    "fashion_mnist": Kind(read_fashion_mnist, lambda cfg: sorted(_find_fashion_mnist(cfg)[1].values())),
    "imagefolder": Kind(read_imagefolder, imagefolder_files),
    "synthetic": Kind(make_synthetic, lambda cfg: []),  # generated from the config alone
    "cifar10": Kind(read_cifar, cifar_files),
    "cifar100": Kind(read_cifar, cifar_files),
}
