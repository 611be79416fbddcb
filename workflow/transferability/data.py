"""The uint8 image cache: decode a data set once, then memory-map it for every training job.

Layout of a cache folder (see datasets.py for the readers):
    {train,val}_images.npy  uint8 (N, C, H, W)
    {train,val}_labels.npy  int64 (N,), values index meta["classes"]
    meta.json               dataset, classes, channels, image_size, mean, std, n_train, n_val, source,
                            source_files (the files' fingerprint: source_param), fingerprint (of the
                            arrays' contents: what a net's identity records)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import UNAVAILABLE, DataError, listing_lines, raise_problems, read_dataset, source_fingerprint
from .io import AtomicFiles

__all__ = ["DataError", "Cache", "build_cache", "load_cache", "source_param"]

STATS_CHUNK = 4096  # images per step when computing mean/std, so a memmap is never read whole
HASH_CHUNK = 1 << 24  # bytes read at a time when fingerprinting the cache


def build_cache(dataset_cfg: dict, out_dir: str | Path, workers: int | None = None, log=None) -> dict:
    """Decode the configured data set once into out_dir and return its meta.

    Every file is written to a temporary name, fsynced and renamed (io.AtomicFiles); meta.json comes
    last, so its presence means the cache is complete.  On error the temporary files are removed and a
    DataError is raised.  `workers` is the number of image-decoding threads (imagefolder).  `log` takes
    each line saying what the data set holds and what was left out, before the decode (default: stdout,
    which is the cache job's log; datasets.listing_lines).
    """
    log = log or _print
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # A stale meta.json must not vouch for arrays we are about to replace.
    (out / "meta.json").unlink(missing_ok=True)
    before = source_fingerprint(dataset_cfg)  # as the workflow's param saw the files, this job about to start
    try:
        with AtomicFiles(out) as files:
            dataset = read_dataset(dataset_cfg, workers)  # downloads the files first where it may (CIFAR)
            _log_listing(dataset, log)
            found = source_fingerprint(dataset_cfg) if before.startswith(UNAVAILABLE) else before
            meta = _write_cache(files, dataset, dataset_cfg.get("kind"), {"param": before, "fingerprint": found})
    except DataError:
        raise
    except Exception as error:  # a full disk, a permission: one clear line, and nothing half-written left
        raise DataError(f"could not write the data cache in {out}: {error}") from error
    return meta


def _print(line: str) -> None:
    print(line, flush=True)  # flushed: the log shows how far a long decode got


def _log_listing(dataset, log) -> None:
    for line in listing_lines(dataset):
        log(line)
    if dataset.unreadable:
        log(f"{len(dataset.unreadable)} file(s) cannot be opened; decoding the others to find any whose body is cut off, "
            "then every unreadable file is named in one error")


def source_param(dataset_cfg: dict, meta_path) -> str:
    """The cache job's `source` param: the fingerprint of the files it reads (datasets.source_fingerprint), so
    that an added, removed or edited file rebuilds the cache (Snakemake reruns a job whose params changed).
    Files the job downloaded itself were 'unavailable' when Snakemake recorded the param: while they are
    unchanged since the job found them (meta.json's source_files), that recorded value is given again, or the
    run after a download would rebuild the cache and retrain every net."""
    current = source_fingerprint(dataset_cfg)
    try:
        meta = json.loads(Path(meta_path).read_text())
    except (OSError, ValueError):  # no cache yet, or a broken one: the cache job runs anyway
        return current
    recorded = meta.get("source_files") if isinstance(meta, dict) else None
    if isinstance(recorded, dict) and recorded.get("fingerprint") == current and isinstance(recorded.get("param"), str):
        return recorded["param"]
    return current


def _write_cache(files: AtomicFiles, dataset, kind: str, source_files: dict) -> dict:
    """The arrays and, last, meta.json, as temporary files of `files` (renamed into place by its block).
    `source_files`: the fingerprint of the files read, as the workflow's param saw them and as this job found
    them (after a download: see source_param)."""
    problems = list(dataset.unreadable)  # every unreadable file of both splits, its header's or its body's fault
    for name, split in (("train", dataset.train), ("val", dataset.val)):
        problems += _write_images(files.new(f"{name}_images.npy"), split)
        with open(files.new(f"{name}_labels.npy"), "wb") as f:  # a file, not a name: np.save would add .npy
            np.save(f, np.asarray(split.labels, np.int64))
    raise_problems(sorted(problems))
    train_images = np.load(files.temp_of("train_images.npy"), mmap_mode="r")
    mean, std = channel_mean_std(train_images)
    channels, image_size = dataset.train.image_shape[:2]
    meta = {"dataset": kind, "classes": dataset.classes, "channels": channels,
            "image_size": image_size, "mean": mean, "std": std, "n_train": len(dataset.train.labels),
            "n_val": len(dataset.val.labels), "source": dataset.source, "source_files": source_files,
            "fingerprint": fingerprint([files.temp_of(name) for name in ARRAYS], dataset.classes)}
    del train_images  # release the mapping before the file is renamed
    files.new("meta.json").write_text(json.dumps(meta, indent=1))
    return meta


@dataclass
class Cache:
    train_images: np.ndarray  # read-only memmaps
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    meta: dict


def load_cache(out_dir: str | Path) -> Cache:
    """Memory-map a cache written by build_cache, checking it is complete and consistent."""
    out = Path(out_dir)
    meta = _read_meta(out / "meta.json")
    arrays = {}
    for split in ("train", "val"):
        n = meta[f"n_{split}"]
        arrays[f"{split}_images"] = _open_array(
            out / f"{split}_images.npy", np.uint8, (n, meta["channels"], meta["image_size"], meta["image_size"]))
        arrays[f"{split}_labels"] = labels = _open_array(out / f"{split}_labels.npy", np.int64, (n,))
        if n and not 0 <= labels.min() <= labels.max() < len(meta["classes"]):
            raise DataError(f"{out / f'{split}_labels.npy'} has labels outside meta.json's classes; "
                            "delete the cache folder and rerun")
    return Cache(**arrays, meta=meta)


def channel_mean_std(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and (population) std of uint8 (N, C, H, W) images, on the 0..255 scale."""
    channels = images.shape[1]
    total, squares, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(images), STATS_CHUNK):
        chunk = np.asarray(images[start:start + STATS_CHUNK], np.float64)
        total += chunk.sum(axis=(0, 2, 3))
        squares += np.square(chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0))
    return mean.tolist(), std.tolist()


# ---------------------------------------------------------------- writing

def _write_images(path: Path, split) -> list[str]:
    """Fill path with the split's images; returns the problems of files that could not be decoded."""
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                       shape=(len(split.labels), *split.image_shape))
    problems = split.write_images(images) or []
    images.flush()
    del images  # unmapped before AtomicFiles fsyncs the file, so every page is in it
    return problems


ARRAYS = ["train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy"]


def fingerprint(paths, classes: list[str]) -> str:
    """sha256 of the cached arrays' bytes and the class names: equal fingerprints, equal training data.
    Reading the arrays back costs far less than decoding them (it is in the page cache)."""
    digest = hashlib.sha256(json.dumps(classes).encode())
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- reading

META_KEYS = {"dataset", "classes", "channels", "image_size", "mean", "std", "n_train", "n_val", "fingerprint"}


def _read_meta(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"{path} is missing, so the data cache is incomplete; delete {path.parent} and rerun")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is unreadable or corrupt ({e}); delete it and rerun") from e
    missing = META_KEYS - set(meta) if isinstance(meta, dict) else META_KEYS
    if missing:
        raise DataError(f"{path} lacks {', '.join(sorted(missing))}; delete it and rerun")
    return meta


def _open_array(path: Path, dtype, shape: tuple) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r")
    except FileNotFoundError:
        raise DataError(f"{path} is missing; delete {path.parent / 'meta.json'} and rerun") from None
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path} is truncated or corrupt ({e}); delete it and rerun") from e
    if array.dtype != dtype or array.shape != tuple(shape):
        raise DataError(f"{path} holds {array.dtype} {array.shape} but meta.json says {np.dtype(dtype)} "
                        f"{tuple(shape)}; delete it and rerun")
    return array
