"""Shared fixtures: a small generated data set, cached and split as the workflow does it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transferability.config import load_config
from transferability import devices, plan, splits
from transferability.data import build_cache

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
WORKFLOW = str(ROOT / "workflow")
SYNTHETIC = {"kind": "synthetic",
             "synthetic": {"classes": 10, "train_per_class": 120, "val_per_class": 20, "image_size": 16,
                           "channels": 1, "seed": 0}}


def package_env(**extra) -> dict:
    """The environment for a `python -m transferability` child: the package importable without an install."""
    return {**os.environ, "PYTHONPATH": WORKFLOW, **extra}


def pytest_collection_modifyitems(items):
    """`make test` runs the test files on every core, each file on one worker (pytest-xdist, --dist loadfile:
    the Slurm tests share one local cluster and switch its modes; a DAG module's fixture is made once). The
    files with slow tests go first (kept in this order: --no-loadscope-reorder), so that the longest work
    starts first and no core idles at the end.
    (Not --dist loadgroup: pytest-xdist 3.8.0 cannot group with pytest 9.2, pytest-xdist issue 1386.)"""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # a stable sort: files keep their order
    # a file's place is its first test's: each file with a slow test comes before every file without one


@pytest.fixture(scope="session", autouse=True)
def own_gpu_locks(tmp_path_factory):
    """The GPU slots of the nets this process trains are claimed in a folder of its own. On a GPU machine a
    finished Run keeps its slot until the garbage collector frees it (a Run is a reference cycle), so a
    training job this process starts (`python -m transferability train`, Snakemake's jobs), claiming from
    the default folder, would otherwise wait for this process forever."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(devices, "DEFAULT_LOCK_DIR", tmp_path_factory.mktemp("gpu-locks"))
        yield


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """results/data and results/splits/random0.tsv of a synthetic data set, built once."""
    root = tmp_path_factory.mktemp("cache")
    meta = build_cache(SYNTHETIC, root / "results/data")
    half_a, half_b = splits.random_halves(len(meta["classes"]), 0)
    splits.write_split(root / "results/splits/random0.tsv", meta["classes"], half_a, half_b)
    return root


SMOKE = ROOT / "tests/smoke.yaml"


def settings(net: str, epochs: int = 2, **train) -> dict:
    """A training job's settings, as the train_net rule builds them (plan.train_settings), for the smoke
    config with these training keys changed."""
    config = load_config(SMOKE, {"train": {"epochs": epochs, "lr": 0.02, "eval_batch_size": 256, **train}})
    return plan.train_settings(config, "random0", 0, net)


def run_dir(workdir: Path, run: str = "smoke") -> Path:
    """Where a run's outputs go: results/<run> (the config file's name without its suffix; plan.py)."""
    return workdir / "results" / run


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The smoke DAG run to the end locally, once per test session."""
    workdir = tmp_path_factory.mktemp("smoke")
    started = time.monotonic()
    result = run_snakemake(workdir, "--cores", "2")
    (workdir / "snakemake.stderr").write_text(result.stderr)  # what the user saw, for the summary's test
    print(f"smoke DAG: {time.monotonic() - started:.1f} s")
    return workdir


def run_snakemake(workdir: Path, *args, config=ROOT / "tests/smoke.yaml", check=True, **kwargs):
    """The real Snakemake on this repository's Snakefile, in `workdir`."""
    configs = config if isinstance(config, (list, tuple)) else [config]
    command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", *map(str, configs), *args]
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


