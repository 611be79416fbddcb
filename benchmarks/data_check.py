"""What the workflow's data checks cost on a large image folder (README: "What makes a net retrain").

Generates an image folder of N small PNGs (default 100,000: 1,000 classes x 90 train + 10 val) and
measures, in one run:
- the change check Snakemake makes on every run (`datasets.source_fingerprint`: list the folder as
  torchvision's make_dataset does, stat every file), with the folder in the page cache;
- the header check made before decoding (PIL opens every file's header) with --workers threads;
- the decode of the same folder, for scale.
Each is also projected linearly to ImageNet's 1,281,167 training + 50,000 validation files.

    .venv/bin/python benchmarks/data_check.py [--files 100000] [--workers 2] [--keep DIR]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from transferability import datasets  # noqa: E402

IMAGENET_FILES = 1_281_167 + 50_000


def make_folder(root: Path, files: int, classes: int = 1000) -> None:
    """classes folders in train/ and val/, 90 % of the files in train; 8x8 PNGs of random grey values."""
    rng = np.random.default_rng(0)
    per_class = files // classes
    train_per_class = per_class * 9 // 10
    pixels = rng.integers(0, 255, (per_class, 8, 8), np.uint8)
    for c in range(classes):
        for split, indices in (("train", range(train_per_class)), ("val", range(train_per_class, per_class))):
            folder = root / split / f"n{c:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in indices:
                Image.fromarray(pixels[i]).save(folder / f"{i:04d}.png")


def timed(function, *args):
    """(wall seconds, CPU seconds of this process, result): on a busy machine the CPU time is the steadier."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - start, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", help="build (or reuse) the folder here instead of a temporary one")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="data-check-"))
    if not (root / "val").exists():
        seconds, _, _ = timed(make_folder, root, args.files)
        print(f"generated {args.files} files in {seconds:.0f} s under {root}")
    cfg = {"kind": "imagefolder", "root": str(root), "image_size": 8, "channels": 1}
    datasets.source_fingerprint(cfg)  # once to warm the page cache, as on a rerun
    fingerprint_s, fingerprint_cpu, fingerprint = timed(datasets.source_fingerprint, cfg)
    files = [Path(p) for p in datasets.imagefolder_files(cfg)]
    headers_s, headers_cpu, problems = timed(datasets._unreadable_headers, files, args.workers)
    dest = np.empty((len(files), 1, 8, 8), np.uint8)
    decode_s, decode_cpu, _ = timed(datasets._decode_into, dest, files, args.workers)
    scale = IMAGENET_FILES / len(files)
    figures = {"files": len(files), "workers": args.workers, "fingerprint": fingerprint,
               "load_average": os.getloadavg()[0],
               "change_check_s": round(fingerprint_s, 2), "change_check_cpu_s": round(fingerprint_cpu, 2),
               "header_check_s": round(headers_s, 2), "header_check_cpu_s": round(headers_cpu, 2),
               "decode_8px_s": round(decode_s, 2), "decode_8px_cpu_s": round(decode_cpu, 2),
               "problems": len(problems),
               "imagenet_change_check_s": round(fingerprint_s * scale, 1),
               "imagenet_header_check_s": round(headers_s * scale, 1)}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
