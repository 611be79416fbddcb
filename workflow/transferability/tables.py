"""Reading and writing the tidy table of trained nets (one row per net) and the tables made from it."""

from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_path, read_json
from .nets import EPOCHS_FILE

COLUMNS = ["dataset", "split", "split_kind", "seed", "net", "treatment", "source", "target", "n", "fine_tuned",
           "images_per_class", "top1", "top5", "loss", "top1_best", "epochs", "wall_s", "images_per_s",
           "settings_hash", "last_epoch_gain"]
TEXT = ["dataset", "split", "split_kind", "source", "target", "treatment", "effect", "finding", "statement",
        "test", "measured", "outcome", "why"]  # columns where a missing value means ""


def collect_metrics(paths, split_kinds: dict) -> pd.DataFrame:
    """One row per metrics.json, with its split's kind (random, explicit, dissimilar or unsplit) and
    its last epoch's gain in validation top-1 (from the epochs.csv beside it), sorted for reading."""
    table = pd.DataFrame([read_json(p) for p in paths])
    table["split_kind"] = table["split"].map(split_kinds)
    table["images_per_class"] = table["images_per_class"].astype("Int64")
    table["last_epoch_gain"] = [last_epoch_gain(Path(p).with_name(EPOCHS_FILE)) for p in paths]
    return table[COLUMNS].sort_values(["split", "seed", "treatment", "n", "net"], ignore_index=True)


NET_COLUMNS = ["dataset", "split", "split_kind", "seed", "net", "treatment", "source", "target", "n", "fine_tuned",
               "images_per_class"]  # what names a net in the epochs table


def collect_epochs(paths, split_kinds: dict) -> pd.DataFrame:
    """One row per epoch of every net: the net's columns (from each metrics.json) and its epochs.csv
    beside it (validation top-1 after each epoch, learning rate, losses, times)."""
    frames = []
    for path in paths:
        net = {k: v for k, v in read_json(path).items() if k in NET_COLUMNS}
        frames.append(pd.read_csv(Path(path).with_name(EPOCHS_FILE)).assign(**net))
    table = pd.concat(frames, ignore_index=True)
    table["split_kind"] = table["split"].map(split_kinds)
    table["images_per_class"] = table["images_per_class"].astype("Int64")
    epoch_columns = [c for c in table if c not in NET_COLUMNS]
    return table[NET_COLUMNS + epoch_columns].sort_values(["split", "seed", "treatment", "n", "net", "epoch"],
                                                          ignore_index=True)


def last_epoch_gain(epochs_csv) -> float:
    """Validation top-1 after the last epoch minus after the one before (NaN for a single epoch):
    how much the net was still improving when training stopped."""
    top1 = pd.read_csv(epochs_csv)["val_top1"]
    return float(top1.iloc[-1] - top1.iloc[-2]) if len(top1) >= 2 else np.nan


def read_nets(path) -> pd.DataFrame:
    table = read_table(path)
    table["images_per_class"] = table["images_per_class"].astype("Int64")
    return table


def read_table(path) -> pd.DataFrame:
    """A table this package wrote, with its text columns as text ("" where empty)."""
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in TEXT})
    text = [c for c in TEXT if c in table]
    table[text] = table[text].fillna("")
    return table


ALPHA = 0.05  # level of every finding's test (analysis.py)


def p_rounded(p: float) -> str:
    """p with two significant digits, more where two would round onto ALPHA (0.0497 is not "0.05 < 0.05")."""
    for digits in (2, 3, 4, 6):
        text = f"{p:.{digits}g}"
        if float(text) != ALPHA:
            return text
    return repr(p)  # within 5e-7 of alpha: all its digits


def write_csv(table: pd.DataFrame, path, decimals=None) -> None:
    """Write atomically; `decimals` rounds every float column but p values (2 significant digits, more where
    two would round onto alpha: analysis.p_rounded)."""
    if decimals is not None:
        table = table.copy()
        floats = [c for c in table.select_dtypes("float").columns if c != "p_value"]
        table[floats] = table[floats].round(decimals)
        if "p_value" in table:
            table["p_value"] = table["p_value"].map(lambda p: float(p_rounded(p)))
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
