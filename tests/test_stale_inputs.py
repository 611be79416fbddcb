"""No net is ever built from stale inputs: a checkpoint (from an interrupted run, or kept after a finished
one) made from other data, other split classes or another source net is never resumed; the job starts
afresh, says why in one line, and ends exactly as a run that never saw the old checkpoint."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from conftest import SYNTHETIC, run_snakemake, settings
from test_workflow import planned_jobs
from transferability.config import load_config
from transferability import plan, splits
from transferability.data import build_cache
from transferability.devices import resolve_precision
from transferability.io import read_json
from transferability.train import Job, train
from transferability.run_options import RunOptions


class Interrupted(Exception):
    pass


def stop_at_epoch_2(line):
    """A log that kills the run once epoch 2 ends, before it is checkpointed: the checkpoint holds epoch 1."""
    if line.startswith("  2/"):
        raise Interrupted


@pytest.fixture(scope="module")
def other_data(tmp_path_factory):
    """The same shape and classes as the workdir's data set, other images."""
    root = tmp_path_factory.mktemp("other")
    build_cache({**SYNTHETIC, "synthetic": {**SYNTHETIC["synthetic"], "seed": 1}}, root / "data")
    return root / "data"


@pytest.fixture(scope="module")
def bases(workdir, tmp_path_factory):
    """Two different baseA nets (1 and 2 epochs) of the workdir's data set."""
    found = {}
    for epochs in (1, 2):
        out = tmp_path_factory.mktemp(f"baseA{epochs}")
        train(job(workdir, "baseA", out, epochs=epochs), log=lambda _: None)
        found[epochs] = out / "weights.safetensors"
    return found


def job(workdir, net, out, epochs=3, data=None, split=None, source=None):
    return Job(settings=settings(net, epochs), data_dir=data or workdir / "results/data",
               split_file=split or workdir / "results/splits/random0.tsv", out_dir=out,
               checkpoint_dir=out / "ckpt", source_weights=source, options=RunOptions(device="cpu"))


def other_split(workdir):
    """Same split name, other classes in the halves (as after editing an explicit split's lists)."""
    path = workdir / "results/splits/other.tsv"
    if not path.exists():
        classes = read_json(workdir / "results/data/meta.json")["classes"]
        splits.write_split(path, classes, *splits.random_halves(len(classes), 1))
    return path


# change -> (net, the first job's inputs, the changed job's inputs, the word the log line must name)
CHANGES = {
    "data": ("baseB", {}, {"data": "other_data"}, "data"),
    "split-classes": ("baseB", {}, {"split": "other_split"}, "split classes"),
    "source-net": ("A2B", {"source": 1}, {"source": 2}, "source net"),
}


def inputs(spec, workdir, other_data, bases):
    resolved = {}
    for key, value in spec.items():
        if key == "source":
            resolved[key] = bases[value]
        elif value == "other_data":
            resolved[key] = other_data
        else:
            resolved[key] = other_split(workdir)
    return resolved


@pytest.mark.parametrize("first_run", ["interrupted", "finished-checkpoint-kept"])
@pytest.mark.parametrize("change", CHANGES)
def test_a_checkpoint_from_other_inputs_is_never_resumed(workdir, other_data, bases, tmp_path, change, first_run):
    net, before, after, named = CHANGES[change]
    before, after = inputs(before, workdir, other_data, bases), inputs(after, workdir, other_data, bases)
    out = tmp_path / "net"
    if first_run == "interrupted":
        with pytest.raises(Interrupted):
            train(job(workdir, net, out, **before), log=stop_at_epoch_2)
    else:
        train(job(workdir, net, out, **before), log=lambda _: None)
        (out / "metrics.json").unlink()  # Snakemake deletes a job's outputs before it reruns it
    assert (out / "ckpt/last.pt").exists()

    lines = []
    metrics = train(job(workdir, net, out, **after), log=lines.append)
    assert not any("resuming" in line for line in lines), lines
    afresh = [line for line in lines if line.startswith("starting afresh")]
    assert len(afresh) == 1 and named in afresh[0], lines

    fresh = train(job(workdir, net, tmp_path / "fresh", **after), log=lambda _: None)
    ours, theirs = (load_file(str(d / "weights.safetensors")) for d in (out, tmp_path / "fresh"))
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs), "not the net a fresh run gives"
    timing = {"wall_s", "images_per_s"}
    assert {k: v for k, v in metrics.items() if k not in timing} == {k: v for k, v in fresh.items() if k not in timing}


def test_unchanged_inputs_still_resume(workdir, tmp_path):
    out = tmp_path / "net"
    with pytest.raises(Interrupted):
        train(job(workdir, "baseB", out), log=stop_at_epoch_2)
    lines = []
    train(job(workdir, "baseB", out), log=lines.append)
    assert "resuming from checkpoint: epoch 1, step 0" in lines


def test_metrics_record_the_provenance_of_the_net(workdir, bases, tmp_path):
    metrics = train(job(workdir, "A2B", tmp_path, epochs=1, source=bases[1]), log=lambda _: None)
    provenance = metrics["provenance"]
    meta = read_json(workdir / "results/data/meta.json")
    assert provenance["data_fingerprint"] == meta["fingerprint"]
    halves = splits.read_split(workdir / "results/splits/random0.tsv")
    assert provenance["split_classes"] == [meta["classes"][i] for i in halves["B"]]
    import hashlib
    assert provenance["source_sha256"] == hashlib.sha256(bases[1].read_bytes()).hexdigest()
    assert provenance["torch"] == torch.__version__
    assert provenance["device"] == "cpu" and provenance["precision"] == resolve_precision("auto", torch.device("cpu"))
    assert provenance["package"] and "git_commit" in provenance


# ---------------------------------------------------------------- the real DAG on an image folder

def make_image_folder(root, seed=0):
    """4 classes of 12-px greyscale PNGs, each class a stripe pattern plus noise (learnable in 2 epochs)."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", 24), ("val", 6)):
        for label in range(4):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                stripes = np.zeros((12, 12)) + 200 * (np.arange(12) % (label + 2) == 0)[None if label % 2 else slice(None)]
                pixels = np.clip(stripes.reshape(12, 12) + rng.normal(0, 40, (12, 12)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    return root


def dag_config(workdir, root):
    config = {"dataset": {"kind": "imagefolder", "root": str(root), "image_size": 12, "channels": 1},
              "splits": {"random": [0]}, "directions": ["AB"], "layers": [1], "treatments": ["transfer"],
              "model": {"preset": "small", "input_size": 12},
              "train": {"epochs": 2, "batch_size": 16, "lr": 0.02, "lr_step_epochs": 0},
              "augment": {"crop_padding": 1}, "checkpoints": {"keep": True}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir / "config.yaml"


NETS_TABLE = "results/config/tables/nets.csv"  # the run of config.yaml in the working directory


def run_dag(workdir, root, *args, **kwargs):
    return run_snakemake(workdir, *args, config=dag_config(workdir, root), **kwargs)


def nets_table(workdir):
    return pd.read_csv(workdir / NETS_TABLE).drop(columns=["wall_s", "images_per_s"])


def train_logs(workdir):
    return {p.stem: p.read_text() for p in (workdir / "results/config/logs/train_net/random0/seed0").glob("*.log")}


@pytest.mark.slow
def test_an_edited_or_moved_image_folder_rebuilds_the_cache_and_retrains_from_scratch(tmp_path):
    """Checkpoints kept (checkpoints.keep: true), then the folder's contents edited, then dataset.root
    pointed at a copy of the original: each time the cache is rebuilt and every net retrains from scratch
    (its log says why); back on the original images, the table is the first run's, bit for bit."""
    original = make_image_folder(tmp_path / "images")
    pristine = shutil.copytree(original, tmp_path / "images-copy")
    work = tmp_path / "work"
    work.mkdir()
    run_dag(work, original, "--cores", "2", NETS_TABLE)
    first = nets_table(work)
    assert planned_jobs(run_dag(work, original, "-n", NETS_TABLE)) == {}

    for path in sorted((original / "train/class0").glob("*.png"))[:12]:  # half of class 0 becomes class 1's
        shutil.copy(original / "train/class1" / path.name, path)
    assert planned_jobs(run_dag(work, original, "-n", NETS_TABLE)) == {
        "cache_dataset": 1, "split_classes": 1, "train_net": 3, "collect_results": 1}
    run_dag(work, original, "--cores", "2", NETS_TABLE)
    for net, log in train_logs(work).items():
        assert "resuming" not in log and "starting afresh" in log, (net, log)
    edited = nets_table(work)
    assert (edited["settings_hash"] == first["settings_hash"]).all()  # same settings, other data
    assert not edited["top1"].equals(first["top1"])

    run_dag(work, pristine, "--cores", "2", NETS_TABLE)  # another root: the original images again
    for net, log in train_logs(work).items():
        assert "resuming" not in log and "starting afresh" in log, (net, log)
    pd.testing.assert_frame_equal(nets_table(work), first)  # bit for bit what the first run trained


@pytest.mark.slow
def test_a_bad_image_is_reported_once_with_every_bad_file_and_not_retried(tmp_path):
    root = make_image_folder(tmp_path / "images")
    bad = [root / "train/class2/zz.png", root / "val/class3/zz.png"]
    for path in bad:
        path.write_bytes(b"truncated")
    result = run_dag(tmp_path, root, "--cores", "2", NETS_TABLE, check=False)
    assert result.returncode != 0
    log = next((tmp_path / "results/cache").glob("imagefolder-*.log")).read_text()  # beside the shared cache
    assert all(str(path) in log for path in bad), log
    output = result.stdout + result.stderr
    assert output.count("Error in rule cache_dataset") == 1, output[-3000:]
    assert not list((tmp_path / "results/cache").glob("*/meta.json"))


# The network, for the next test only: in a `cache-data` job, the CIFAR download copies a local folder
# (the published files' layout) instead of fetching the archive; everything else is the real job.
FAKE_DOWNLOAD = '''
import os, shutil, sys
if "cache-data" in sys.argv and os.environ.get("FAKE_CIFAR_FROM"):
    from transferability import datasets
    def _download_cifar(kind, target):
        shutil.copytree(os.environ["FAKE_CIFAR_FROM"], target / "cifar-10-batches-py")
    datasets._download_cifar = _download_cifar
'''


def write_published_cifar10(folder):
    """CIFAR-10's python version, 40 images per training batch and 100 test images (noise, 8 classes used)."""
    from test_data import CIFAR10_NAMES, cifar_pickle

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [*((f"data_batch_{i}", 40) for i in range(1, 6)), ("test_batch", 100)]:
        images, labels = rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n)
        (folder / name).write_bytes(cifar_pickle({"labels": labels.tolist(), "data": images}))
    (folder / "batches.meta").write_bytes(cifar_pickle({"label_names": CIFAR10_NAMES}))


@pytest.mark.slow
def test_data_the_cache_job_downloaded_reruns_nothing_until_it_changes(tmp_path):
    """dataset.download: true: the first run downloads CIFAR-10 in its cache job (its fingerprint of the files
    said 'unavailable' before). The next run must keep the cache and every net, as for data that was there
    before; editing a downloaded file afterwards still rebuilds the cache."""
    published = tmp_path / "published"
    write_published_cifar10(published)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FAKE_DOWNLOAD)
    env = {**os.environ, "PYTHONPATH": str(site), "FAKE_CIFAR_FROM": str(published)}
    root = tmp_path / "cifar"
    config = {"dataset": {"kind": "cifar10", "root": str(root), "download": True, "image_size": 8, "channels": 1},
              "splits": {"random": [0]}, "directions": ["AB"], "layers": [1], "treatments": ["transfer"],
              "model": {"preset": "small", "input_size": 8}, "train": {"epochs": 1, "batch_size": 16},
              "augment": {"crop_padding": 0}, "analyses": {"run": []}}
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    base = "results/config/nets/random0/seed0/baseA/metrics.json"

    def run(*args):
        return run_snakemake(work, *args, base, config=work / "config.yaml", env=env)

    run("--cores", "2")
    assert (root / "cifar-10-batches-py/data_batch_1").is_file(), "the cache job did not download"
    assert planned_jobs(run("-n")) == {}
    os.utime(root / "cifar-10-batches-py/data_batch_1")  # a downloaded file edited (touched) since
    assert planned_jobs(run("-n")) == {"cache_dataset": 1, "split_classes": 1, "train_net": 1}


@pytest.mark.slow
def test_the_same_data_set_written_in_another_key_order_keeps_the_cache(tmp_path):
    """The cache job's param is the data set's config as JSON: the order in which a config file wrote its keys
    (or a default written out) rebuilt the cache, shared by every run over that data set, and so retrained
    every net of those runs, for the same data in the same cache folder."""
    synthetic = {"classes": 4, "train_per_class": 10, "val_per_class": 5, "image_size": 8, "channels": 1, "seed": 0}
    dataset = {"kind": "synthetic", "synthetic": synthetic}
    config = {"splits": {"random": [0]}, "directions": ["AB"], "layers": [1], "treatments": ["transfer"],
              "model": {"preset": "small", "input_size": 8}}
    path = tmp_path / "config.yaml"

    def run(data, *args):
        path.write_text(yaml.safe_dump({"dataset": data, **config}, sort_keys=False))
        meta = plan.Plan(load_config(path)).files.meta
        return run_snakemake(tmp_path, *args, meta, config=path)

    run(dataset, "--cores", "1")
    assert planned_jobs(run({"synthetic": dict(reversed(synthetic.items())), "kind": "synthetic"}, "-n")) == {}
    assert planned_jobs(run({"download": False, **dataset}, "-n")) == {}  # the schema's default, written out
