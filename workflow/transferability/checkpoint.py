"""In-job checkpoints: everything needed to continue a run bit-identically, kept where Snakemake does
not delete them (Snakemake removes a job's declared outputs before rerunning it).

The last two checkpoints are kept, so a truncated newest one falls back to the one before.
Checkpoints are read with `torch.load(weights_only=True)`: a file that would need unpickling of
arbitrary objects is refused, never executed.
"""

import random
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from .io import atomic_path

LAST, PREVIOUS = "last.pt", "previous.pt"


def rng_states(generator: torch.Generator) -> dict:
    """The random states a run draws from; `generator` is its data generator, on the run's device. On a GPU,
    dropout draws from the default generator of that GPU (the current device): its state is kept alone, not
    by GPU number, since a resumed job may get another GPU of the machine."""
    np_state = np.random.get_state()
    on_gpu = generator.device.type == "cuda"
    return {"torch": torch.get_rng_state(), "data": generator.get_state(),
            "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]],
            "python": random.getstate(),
            "cuda": [torch.cuda.get_rng_state(generator.device)] if on_gpu else []}


def restore_rng_states(states: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    generator.set_state(states["data"])
    kind, keys, *rest = states["numpy"]
    np.random.set_state((kind, keys.numpy(), *rest))
    random.setstate(states["python"])
    if states["cuda"] and generator.device.type == "cuda":  # the run's GPU, whichever it was before
        torch.cuda.set_rng_state(states["cuda"][0], generator.device)


# The layout a checkpoint's state has (Run.state_dict): one of another layout is not resumed.
# 2: torch.optim's SGD and LambdaLR states (1: the hand-written SGD's, unversioned).
FORMAT = 2


def save(directory, state: dict) -> None:
    """Write atomically as last.pt, keeping the former last.pt as previous.pt."""
    with atomic_path(Path(directory) / LAST, keep_old_as=PREVIOUS) as tmp:
        torch.save({**state, "format": FORMAT}, tmp)


# What a checkpoint's identity records, as the job's log names it when they differ.
IDENTITY_PARTS = {"settings": "settings", "data_fingerprint": "data", "split_classes": "split classes",
                  "source_sha256": "source net"}


def load(directory, identity: dict, log=print) -> dict | None:
    """The newest readable checkpoint made from exactly these inputs (`identity`: the settings' hash, the
    data's fingerprint, the split's classes, the source net's hash), or None. A checkpoint made from other
    inputs is never resumed: the job starts afresh, and its log says why in one line."""
    differences = []
    for name in (LAST, PREVIOUS):
        path = Path(directory) / name
        if not path.exists():
            continue
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as error:  # truncated, corrupt or not a plain-tensor file
            warnings.warn(f"ignoring unreadable checkpoint {path}: {_reason(error)}")
            continue
        changed = _changed_parts(state, identity)
        if not changed:
            return state
        differences.append(f"{path.name}: other {', '.join(changed)}")
    if differences:
        log(f"starting afresh: the checkpoints in {directory} were made from other inputs "
            f"({'; '.join(differences)}), so none is resumed")
    return None


def _changed_parts(state: dict, ours: dict) -> list[str]:
    theirs = state.get("identity")
    if not isinstance(theirs, dict):
        return ["inputs (made by an older version, which recorded no identity)"]
    if state.get("format") != FORMAT:
        return ["layout (made by another version of the training code)"]
    return [IDENTITY_PARTS.get(key, key) for key in ours if theirs.get(key) != ours[key]] or (
        ["inputs"] if set(theirs) != set(ours) else [])


def _reason(error: Exception) -> str:
    refused = re.search(r"unsupported GLOBAL (\S+)", str(error), re.IGNORECASE)
    if refused:  # a pickle that wants to run code: refused by weights_only, never executed
        return f"it asks to load {refused[1]}, which a checkpoint never needs (refused, not run)"
    return f"{type(error).__name__}: {str(error)[:200]}"


def remove_finished(pairs, root) -> int:
    """Delete the checkpoints of nets whose final metrics exist; `pairs` are (metrics, checkpoint dir).
    Empty folders left under `root` go too. Returns how many nets' checkpoints were removed."""
    removed = 0
    for metrics, directory in pairs:
        if Path(metrics).exists() and Path(directory).exists():
            shutil.rmtree(directory)
            removed += 1
    root = Path(root)
    folders = [*root.rglob("*"), root] if root.exists() else []
    for folder in sorted(folders, key=lambda p: -len(p.parts)):  # deepest first
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed
