"""Bad input gets a clear error and loses nothing.

Every malformed config or input below must end in ONE line naming the problem (the key, file or folder,
and what is allowed or what to do), a non-zero exit, and no output left behind. One table per kind:
config errors through the real `snakemake` (dry run), data errors through `cache-data`, split errors
through `split`, training errors through `train`, crafted checkpoints and pickles, and wildcard paths
that try to escape results/.
"""

import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from transferability.config import load_config
from transferability import checkpoint, cli, datasets, plan, splits
from transferability.config import ConfigError, check_config, coerce_config, load_schema
from transferability.data import build_cache

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
SMOKE = ROOT / "tests/smoke.yaml"
TINY = {"kind": "synthetic", "synthetic": {"classes": 4, "train_per_class": 20, "val_per_class": 5,
                                           "image_size": 16, "channels": 1, "seed": 0}}
PROFILE_NOTE = "Using workflow specific profile"  # Snakemake's own note, printed before anything else


def files_under(folder: Path) -> list[str]:
    """Every file below folder (hidden temporaries included), relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def one_error_line(stderr: str) -> str:
    """The single `error: ...` line of stderr; fails if there is anything else (Snakemake's profile note aside)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(PROFILE_NOTE)]
    assert len(lines) == 1, f"expected one error line, got:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def assert_names(line: str, expected) -> None:
    for part in expected:
        assert str(part) in line, f"{part!r} missing from: {line}"


def snakemake(workdir: Path, config: dict, *args) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [SNAKEMAKE, *args, "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
               "--configfile", str(workdir / "config.yaml")]
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=300)


def transferability(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "transferability", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


# ---------------------------------------------------------------- config errors, via the real Snakemake

SYNTHETIC_CONFIG = {"dataset": TINY}

CONFIG_CASES = [
    ("unknown-top-level-key", {"trian": {"epochs": 1}}, [],
     ["unknown config key trian", "allowed keys there:", "train, treatments"]),
    ("unknown-nested-key", {"train": {"epoch": 1}}, [],
     ["unknown config key train.epoch", "allowed keys there:", "epochs"]),
    ("wrong-type", {"train": {"epochs": "four"}}, [],
     ["config key train.epochs", "'four'", "wrong type", "integer"]),
    ("layer-0", {"layers": [0]}, [], ["config key layers[0] = 0", "out of range", ">= 1"]),
    ("device-gpu", {"train": {"device": "gpu"}}, [],
     ["config key train.device = 'gpu'", "allowed values: auto, cpu, cuda"]),
    ("explicit-split-name-with-slash", {"splits": {"explicit": {"../evil": {"A": [0], "B": [1]}}}}, [],
     ["config key splits.explicit", "../evil", "must match"]),
    ("command-line-override", {}, ["--config", "seeds=[0, -1]"],
     ["config key seeds[1] = -1", "out of range", ">= 0"]),
    # --config merges mappings into the file's key by key: an empty one removed nothing, and the run went on
    # with the file's explicit split (and its finding 4.2) as though it had been asked for
    ("command-line-empty-mapping", {"splits": {"random": [0], "explicit": {"d": {"A": [0, 1], "B": [2, 3]}}}},
     ["--config", "splits={explicit: {}}"], ["config key splits.explicit = {}", "--config", "removes nothing", "d"]),
    # a config file is typed YAML: a quoted number there is a string, refused (only --config's values are text)
    ("quoted-number-in-a-config-file", {"dataset": {**TINY, "image_size": "16"}}, [],
     ["config key dataset.image_size = '16'", "wrong type", "expected integer or null"]),
]


@pytest.mark.parametrize("config, args, expected", [case[1:] for case in CONFIG_CASES],
                         ids=[case[0] for case in CONFIG_CASES])
def test_bad_config_stops_snakemake_with_one_line(tmp_path, config, args, expected):
    result = snakemake(tmp_path, {**SYNTHETIC_CONFIG, **config}, "-n", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr, result.stderr
    assert_names(one_error_line(result.stderr), expected)
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


CHECK_CASES = [  # more of the same, checked without starting Snakemake (2-3 s each)
    ("layer-8", {"layers": [1, 8]}, ["config key layers[1] = 8", "out of range", "<= 7"]),
    ("epochs-0", {"train": {"epochs": 0}}, ["config key train.epochs = 0", ">= 1"]),
    ("epochs-negative", {"train": {"epochs": -3}}, ["config key train.epochs = -3", ">= 1"]),
    ("dataset-mnist", {"dataset": {"kind": "mnist"}},
     ["config key dataset.kind = 'mnist'", "fashion_mnist, imagefolder, synthetic, cifar10, cifar100"]),
    ("explicit-split-empty-half", {"splits": {"explicit": {"dissimilar": {"A": [], "B": [1]}}}},
     ["config key splits.explicit.dissimilar.A = []", "has 0 item(s)", "at least 2"]),
    ("explicit-split-half-of-one", {"splits": {"explicit": {"dissimilar": {"A": [0, 1], "B": [2]}}}},
     ["config key splits.explicit.dissimilar.B = [2]", "has 1 item(s)", "at least 2"]),
    ("missing-half", {"splits": {"explicit": {"d": {"A": [0]}}}}, ["splits.explicit.d", "lacks", "B"]),
    ("section-not-a-mapping", {"train": 5}, ["config key train = 5", "wrong type", "object"]),
    ("half-of-wrong-type", {"splits": {"explicit": {"d": {"A": 3, "B": [1]}}}},
     ["splits.explicit.d.A = 3", "expected array or string"]),
    ("dropout-1", {"model": {"dropout": 1}}, ["config key model.dropout = 1", "< 1"]),
    ("seed-twice", {"seeds": [0, 0]}, ["config key seeds = [0, 0]", "twice"]),
    ("unknown-direction", {"directions": ["AC"]}, ["config key directions[0] = 'AC'", "AB, BA"]),
    ("too-many-fc-widths", {"model": {"fc_widths": [1, 2, 3]}}, ["model.fc_widths", "has 3 item(s)", "at most 2"]),
    ("unknown-analysis", {"analyses": {"run": ["cka"]}},
     ["config key analyses.run[0] = 'cka'", "similarity, probes, filters"]),
    ("too-few-similarity-images", {"analyses": {"similarity_images": 5}}, ["analyses.similarity_images = 5", ">= 10"]),
    ("nets-per-gpu-0", {"resources": {"nets_per_gpu": 0}}, ["config key resources.nets_per_gpu = 0", ">= 1"]),
    ("dissimilar-not-a-flag", {"splits": {"explicit": {"d": {"A": [0, 1], "B": [2, 3], "dissimilar": "yes"}}}},
     ["splits.explicit.d.dissimilar = 'yes'", "wrong type", "boolean"]),
    ("name-of-half-c", {"splits": {"explicit": {"d": {"A": [0, 1], "B": [2, 3], "names": {"C": "x"}}}}},
     ["unknown config key splits.explicit.d.names.C", "A, B"]),
]


@pytest.mark.parametrize("config, expected", [case[1:] for case in CHECK_CASES], ids=[case[0] for case in CHECK_CASES])
def test_config_messages(config, expected):
    with pytest.raises(ConfigError) as error:
        check_config(config, SCHEMA)
    assert "\n" not in str(error.value)
    assert_names(str(error.value), expected)


def test_command_line_strings_are_read_as_numbers_where_the_schema_wants_them():
    # Snakemake reads nested --config values with YAML's BaseLoader: everything arrives as strings.
    config = {"layers": ["1", "2"], "train": {"epochs": "3", "lr": "1e-3", "device": "cpu"},
              "plots": {"paper": "true", "dpi": "high"}, "splits": {"explicit": {"d": {"A": ["7"], "B": ["x"]}}}}
    coerce_config(config, SCHEMA)
    assert config == {"layers": [1, 2], "train": {"epochs": 3, "lr": 0.001, "device": "cpu"},
                      "plots": {"paper": True, "dpi": "high"}, "splits": {"explicit": {"d": {"A": ["7"], "B": ["x"]}}}}
    with pytest.raises(ConfigError, match=r"plots.dpi = 'high' has the wrong type"):
        check_config(config, SCHEMA)
    with pytest.raises(ConfigError, match=r"train.epochs = 'four'"):
        check_config(coerce_config({"train": {"epochs": "four"}}, SCHEMA), SCHEMA)


WRONGLY_TYPED = [  # each written in a config file: YAML gives it as a string, and the schema wants another type
    ({"dataset": {"kind": "synthetic", "image_size": "16"}}, "config key dataset.image_size = '16' has the wrong type; "
     "expected integer or null"),
    ({"train": {"epochs": "3"}}, "config key train.epochs = '3' has the wrong type; expected integer"),
    ({"train": {"lr": "1e-3"}}, "config key train.lr = '1e-3' has the wrong type; expected number"),
    ({"train": {"compile": "false"}}, "config key train.compile = 'false' has the wrong type; expected boolean"),
    ({"layers": ["1", 2]}, "config key layers[0] = '1' has the wrong type; expected integer"),
]


@pytest.mark.parametrize("config, expected", WRONGLY_TYPED, ids=[m.split()[2] for _, m in WRONGLY_TYPED])
def test_a_config_file_of_wrongly_typed_values_is_refused(tmp_path, config, expected):
    """Strings were read as numbers wherever the schema wanted one, so `image_size: "16"` in a file passed;
    only --config's values arrive as text and are read so."""
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == expected


def test_command_line_values_are_still_read_as_numbers(tmp_path):
    result = snakemake(tmp_path, SYNTHETIC_CONFIG, "-n", "--config", "train={epochs: 1, lr: 1e-3}", "layers=[1, 2]")
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("classes", [["cat"], ["cat", "dog", "owl"]], ids=["1-class", "3-class"])
def test_too_few_class_folders_are_refused_from_the_listing_before_any_job(tmp_path, classes):
    """A split needs two halves of at least 2 classes: an image folder of fewer than 4 class folders was refused
    by the split job, after every image had been decoded. A broken image shows nothing is decoded first."""
    root = image_folder(tmp_path / "imgs", {part: {name: ["a.png"] for name in classes} for part in ("train", "val")})
    (root / "train/cat/broken.png").write_bytes(b"not an image")
    config = {"dataset": {"kind": "imagefolder", "root": str(root), "image_size": 8}}
    result = snakemake(tmp_path / "work", config, "-n")
    assert result.returncode != 0
    assert_names(one_error_line(result.stderr), [
        f"{root / 'train'} has {len(classes)} class folder(s) ({', '.join(classes)})", "at least 4"])
    assert not (tmp_path / "work/results").exists()


# ---------------------------------------------------------------- wildcard paths that try to escape

ESCAPE_CASES = [
    ("dot-dot-out-of-the-workdir", "results/config/nets/../../../outside/seed0/baseA/metrics.json", ["No rule to produce"]),
    ("absolute-path-outside", "{outside}/seed0/baseA/metrics.json", ["No rule to produce"]),
    ("split-name-with-slash", "results/config/nets/a/b/seed0/baseA/metrics.json", ["No rule to produce"]),
    ("split-not-in-config", "results/config/nets/nosuch/seed0/baseA/metrics.json",
     ["split 'nosuch' is not in the config; configured splits: random0"]),
]


@pytest.mark.parametrize("target, expected", [case[1:] for case in ESCAPE_CASES], ids=[case[0] for case in ESCAPE_CASES])
def test_targets_outside_the_workflow_are_refused(tmp_path, target, expected):
    """Not a dry run: if a rule matched, it would really run and write."""
    workdir, outside = tmp_path / "deep/work", tmp_path / "deep/outside"
    config = {**SYNTHETIC_CONFIG, "train": {"epochs": 1, "device": "cpu"}}
    result = snakemake(workdir, config, target.format(outside=outside), "--cores", "1")
    assert result.returncode != 0
    assert_names(result.stdout + result.stderr, expected)
    assert not outside.exists()
    assert [f for f in files_under(tmp_path) if not f.startswith("deep/work/.snakemake/")] == ["deep/work/config.yaml"]


# ---------------------------------------------------------------- data errors, via `cache-data`

def image_folder(root: Path, layout: dict[str, dict[str, list[str]]]) -> Path:
    """layout: {"train": {"cat": ["a.png", ...]}, ...}; names ending in .png get a real image."""
    from PIL import Image
    for part, classes in layout.items():
        for name, files in classes.items():
            (root / part / name).mkdir(parents=True, exist_ok=True)
            for file in files:
                Image.new("RGB", (6, 6), (len(file) * 20, 0, 0)).save(root / part / name / file)
    return root


def idx_file(path: Path, array: np.ndarray) -> None:
    path.write_bytes(bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


class Evil:
    """Unpickling this runs `touch <marker>`: what a tampered download or checkpoint might try."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _root_missing(tmp):
    root = tmp / "no/such/folder"
    return {"kind": "imagefolder", "root": str(root)}, [root, f"{root}/train/<class>/<images>", f"{root}/val/<class>/<images>"]


def _no_val_folder(tmp):
    root = image_folder(tmp / "imgs", {"train": {"cat": ["a.png"], "dog": ["a.png"]}})
    return {"kind": "imagefolder", "root": str(root)}, [f"folder {root / 'val'} not found", "expected"]


def _class_without_val_folder(tmp):
    root = image_folder(tmp / "imgs", {"train": {"cat": ["a.png"], "dog": ["a.png"]}, "val": {"cat": ["a.png"]}})
    return {"kind": "imagefolder", "root": str(root)}, ["class folder(s) dog missing in", root / "val"]


def _class_without_val_images(tmp):
    root = image_folder(tmp / "imgs", {"train": {"cat": ["a.png"], "dog": ["a.png"]}, "val": {"cat": ["a.png"]}})
    (root / "val/dog").mkdir()
    (root / "val/dog/notes.txt").write_text("not an image")
    return {"kind": "imagefolder", "root": str(root)}, [f"class folder {root / 'val/dog'} contains no image files"]


def _corrupt_image(tmp):
    root = image_folder(tmp / "imgs", {"train": {"cat": ["a.png", "b.png"], "dog": ["a.png"]},
                                       "val": {"cat": ["a.png"], "dog": ["a.png"]}})
    (root / "val/dog/broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not the rest of a PNG")
    return {"kind": "imagefolder", "root": str(root)}, ["cannot decode images: 1 unreadable file(s)", root / "val/dog/broken.png"]


def _fashion_mnist_truncated(tmp):
    root = tmp / "fmnist"
    root.mkdir()
    for split, n in (("train", 6), ("t10k", 4)):
        idx_file(root / f"{split}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))
        idx_file(root / f"{split}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8))
    broken = root / "train-images-idx3-ubyte"
    broken.write_bytes(broken.read_bytes()[:2000])
    return {"kind": "fashion_mnist", "root": str(root)}, [broken, "truncated or corrupt", "download it again"]


def _cifar_not_found(tmp):
    root = tmp / "empty"
    root.mkdir()
    return {"kind": "cifar10", "root": str(root)}, [
        "cifar10 files not found", root / "cifar-10-batches-py", "set dataset.root", "dataset.download: true"]


def _cifar_crafted_pickle(tmp):
    folder = tmp / "cifar/cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"")
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [], "x": Evil(tmp / "PWNED")}, protocol=2))
    return {"kind": "cifar10", "root": str(tmp / "cifar")}, [folder / "batches.meta", "system", "refusing to unpickle"]


DATA_CASES = [_root_missing, _no_val_folder, _class_without_val_folder, _class_without_val_images, _corrupt_image,
              _fashion_mnist_truncated, _cifar_not_found, _cifar_crafted_pickle]


@pytest.mark.parametrize("make", DATA_CASES, ids=[f.__name__.strip("_").replace("_", "-") for f in DATA_CASES])
def test_bad_data_gives_one_line_and_no_cache(tmp_path, make):
    dataset, expected = make(tmp_path)
    dataset = {"image_size": 8, "channels": 3, "workers": 1, **dataset}
    work, home = tmp_path / "work", tmp_path / "home"  # so the default search places (data/..., ~/.cache/...) miss
    work.mkdir(), home.mkdir()
    result = transferability("cache-data", "--dataset", json.dumps(dataset), "--out", work / "results/data",
                             cwd=work, env={**os.environ, "HOME": str(home)})
    assert result.returncode == 1, result.stderr
    assert_names(one_error_line(result.stderr), expected)
    assert files_under(work / "results") == []
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_the_console_shows_the_cache_jobs_summary_and_its_log_every_detail(tmp_path):
    """The console said nothing of what was cached or skipped, and a data error sat inside the cache job's log."""
    classes = ["ant", "bee", "cat", "dog"]
    root = image_folder(tmp_path / "imgs", {part: {name: ["a.png", "bb.png"] for name in classes} for part in ("train", "val")})
    (root / "train/ant/photo.heic").write_bytes(b"a HEIC photo")
    (root / "val/dog/cut.png").write_bytes(b"not an image")
    config = {"dataset": {"kind": "imagefolder", "root": str(root), "image_size": 8}}
    failed = snakemake(tmp_path / "work", config, "--cores", "1", "--until", "cache_dataset")
    assert failed.returncode != 0
    assert "train: 8 images of 4 classes: ant 2, bee 2, cat 2, dog 2" in failed.stderr
    assert "skipped 1 file(s) below the class folders: 1 by their extension (.heic 1); first: train/ant/photo.heic" \
        in failed.stderr
    assert f"error: cannot decode images: 1 unreadable file(s): {root / 'val/dog/cut.png'}" in failed.stderr
    (root / "val/dog/cut.png").unlink()
    done = snakemake(tmp_path / "work", config, "--cores", "1", "--until", "cache_dataset")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "val: 8 images of 4 classes: ant 2, bee 2, cat 2, dog 2" in done.stderr
    assert "  skipped" not in done.stderr  # the details stay in the log
    log = next((tmp_path / "work/results/cache").glob("imagefolder-*.log")).read_text()
    assert "  skipped train/ant/photo.heic: extension .heic" in log


def test_fashion_mnist_not_found_names_every_place_looked(tmp_path, monkeypatch, capsys):
    # This machine has Debian's copy in /usr/share/datasets/fashion-mnist: make every default place miss.
    places = [tmp_path / "nowhere", tmp_path / "neither"]
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIRS", places)
    root = tmp_path / "empty"
    root.mkdir()
    out = tmp_path / "results/data"
    rc = cli.main(["cache-data", "--dataset", json.dumps({"kind": "fashion_mnist", "root": str(root)}), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 1
    assert_names(one_error_line(captured.err), [
        "Fashion-MNIST files", "train-images-idx3-ubyte", f"looked in: {root}, {places[0]}, {places[1]}",
        "apt-get install dataset-fashion-mnist", "dataset.root"])
    assert files_under(out) == []


# ---------------------------------------------------------------- split errors, via `split`

CLASSES = ["cat", "dog", "car", "ship"]

SPLIT_CASES = [
    ("empty-half", {"A": [], "B": ["dog"]}, ["half A is empty"]),
    ("overlapping-halves", {"A": ["cat", "dog"], "B": ["dog", "car"]}, ["halves A and B overlap", "'dog'"]),
    ("unknown-class-name", {"A": ["cat", "wolf"], "B": ["car"]}, ["half A: unknown class 'wolf'", "known: cat, dog, car, ship"]),
    ("class-index-out-of-range", {"A": [0], "B": [1, 4]}, ["half B: class index 4 is outside 0..3"]),
    ("class-twice", {"A": ["cat", 0], "B": ["dog"]}, ["half A lists class 'cat' twice"]),
    ("class-list-file-missing", {"A": "{tmp}/no-such-list.txt", "B": ["dog"]},
     ["cannot read the class list file {tmp}/no-such-list.txt", "No such file"]),
    ("class-list-file-unknown-name", {"A": "{tmp}/list.txt", "B": ["dog"]}, ["half A: unknown class 'zebra'"]),
]


@pytest.mark.parametrize("definition, expected", [case[1:] for case in SPLIT_CASES], ids=[case[0] for case in SPLIT_CASES])
def test_bad_split_gives_one_line_and_no_file(tmp_path, definition, expected):
    (tmp_path / "meta.json").write_text(json.dumps({"classes": CLASSES}))
    (tmp_path / "list.txt").write_text("cat\nzebra\n")
    definition = {half: value.format(tmp=tmp_path) if isinstance(value, str) else value
                  for half, value in definition.items()}
    out = tmp_path / "results/splits/dissimilar.tsv"
    result = transferability("split", "--meta", tmp_path / "meta.json", "--definition", json.dumps(definition),
                             "--out", out)
    assert result.returncode == 1, result.stderr
    assert_names(one_error_line(result.stderr), [part.format(tmp=tmp_path) for part in expected])
    assert files_under(tmp_path / "results") == []


# ---------------------------------------------------------------- training errors, via `train`

def settings(net: str) -> dict:
    """The train_net rule's --settings (plan.train_settings) for a short run of the smoke config; the
    net's name set afterwards, so a name the plan would refuse reaches the command."""
    config = load_config(SMOKE, {"train": {"epochs": 1, "batch_size": 16, "lr": 0.02, "eval_batch_size": 100}})
    return {**plan.train_settings(config, "random0", 0, "baseA"), "net": net}


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


TRAIN_CASES = [
    ("truncated-cached-images", "baseA", lambda data: _truncate(data / "train_images.npy", 0.5),
     ["{file}", "truncated or corrupt", "delete it and rerun"]),
    ("cached-labels-cut-in-the-header", "baseA", lambda data: _truncate(data / "val_labels.npy", 0.2),
     ["{file}", "truncated or corrupt", "delete it and rerun"]),
    ("bad-net-name", "Z9B", lambda data: None, ["bad net name 'Z9B'", "baseA, baseB", "A3B+"]),
]


@pytest.mark.parametrize("net, damage, expected", [case[1:] for case in TRAIN_CASES], ids=[case[0] for case in TRAIN_CASES])
def test_bad_training_input_gives_one_line_and_no_net(tmp_path, net, damage, expected):
    data = tmp_path / "results/data"
    meta = build_cache(TINY, data)
    half_a, half_b = splits.random_halves(len(meta["classes"]), 0)
    splits.write_split(tmp_path / "results/splits/random0.tsv", meta["classes"], half_a, half_b)
    damaged = damage(data)
    out, checkpoints = tmp_path / f"results/nets/random0/seed0/{net}", tmp_path / f"results/checkpoints/random0/seed0/{net}"
    result = transferability("train", "--settings", json.dumps(settings(net)), "--data", data,
                             "--split", tmp_path / "results/splits/random0.tsv", "--out-dir", out,
                             "--checkpoint-dir", checkpoints, "--run-options", '{"device": "cpu"}')
    assert result.returncode == 1, result.stderr
    assert_names(one_error_line(result.stderr), [part.format(file=damaged) for part in expected])
    assert files_under(out) == [] and files_under(checkpoints) == []


# ---------------------------------------------------------------- crafted checkpoints are refused, never run

def _raw_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"settings_hash": "h", "x": Evil(marker)}, protocol=2))


def _torch_file(path: Path, marker: Path) -> None:
    import torch
    torch.save({"settings_hash": "h", "x": Evil(marker)}, path)


@pytest.mark.parametrize("write", [_raw_pickle, _torch_file], ids=["raw-pickle", "torch-save-file"])
def test_crafted_checkpoint_is_refused_not_executed(tmp_path, write):
    marker = tmp_path / "PWNED"
    write(tmp_path / checkpoint.LAST, marker)
    with pytest.warns(UserWarning, match=f"ignoring unreadable checkpoint {tmp_path / checkpoint.LAST}"):
        state = checkpoint.load(tmp_path, {"settings": "h"})
    assert state is None
    assert not marker.exists()


@pytest.mark.parametrize("classes, definition, expected", [
    (["only"], {"random_seed": 0}, ["half A has 0 class(es) (none) of the data set's 1", "at least 2"]),
    (["cat", "dog"], {"random_seed": 0}, ["has 1 class(es)", "at least 2", "at least 4 classes"]),
    (["cat", "dog", "car"], {"random_seed": 0}, ["half A has 1 class(es)", "at least 2"]),
    (CLASSES, {"A": ["cat"], "B": ["dog", "car", "ship"]}, ["half A has 1 class(es) ('cat')", "at least 2"]),
    (["only"], {"whole": True}, ["has 1 class(es) ('only')", "at least 2"]),
], ids=["1-class-data-set", "2-class-data-set", "3-class-data-set", "explicit-half-of-one", "whole-task-of-one"])
def test_a_half_of_fewer_than_two_classes_is_refused_before_training(tmp_path, classes, definition, expected):
    (tmp_path / "meta.json").write_text(json.dumps({"classes": classes}))
    out = tmp_path / "results/splits/random0.tsv"
    result = transferability("split", "--meta", tmp_path / "meta.json", "--definition", json.dumps(definition),
                             "--out", out)
    assert result.returncode == 1, result.stderr
    assert_names(one_error_line(result.stderr), expected)
    assert files_under(tmp_path / "results") == []
