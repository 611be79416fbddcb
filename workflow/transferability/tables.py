"""Reading and writing the tidy table of trained nets (one row per net)."""

import pandas as pd

from .io import atomic_path, read_json

COLUMNS = ["dataset", "split", "split_kind", "seed", "net", "treatment", "source", "target", "n", "fine_tuned",
           "images_per_class", "top1", "top5", "loss", "top1_best", "epochs", "wall_s", "images_per_s",
           "settings_hash"]


def collect_metrics(paths, split_kinds: dict) -> pd.DataFrame:
    """One row per metrics.json, with its split's kind (random or explicit), sorted for reading."""
    rows = [read_json(p) for p in paths]
    table = pd.DataFrame(rows)
    table["split_kind"] = table["split"].map(split_kinds)
    table["images_per_class"] = table["images_per_class"].astype("Int64")
    return table[COLUMNS].sort_values(["split", "seed", "treatment", "n", "net"], ignore_index=True)


def read_nets(path) -> pd.DataFrame:
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"source": str, "split": str})
    table["source"] = table["source"].fillna("")
    table["images_per_class"] = table["images_per_class"].astype("Int64")
    return table


def write_csv(table: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
