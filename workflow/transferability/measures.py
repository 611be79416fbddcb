"""Per-layer measures beside the transfer curve: CKA similarity, linear-probe accuracy, and how well these
cheap measures rank the layers by their transfer drop.

Units of replication: a split and seed (a cluster), as in the findings (analysis.py). A measure between the
two base nets of a split (CKA of baseA and baseB) has one value per cluster; a directed measure (a transfer
drop, a probe drop, a fine-tuned net against its source) is paired within each target half, as the effects
table pairs them, then averaged over the cluster's halves (they share the partition and the nets). Random
splits are pooled into one group, "random"; each explicit split is its own group. Spreads are 95% t intervals
across clusters (df = clusters - 1); with a single cluster they are undefined and left empty, never 0.
"""

import numpy as np
import pandas as pd
from scipy import stats

from .analysis import cluster_values, t_half_width

SUMMARY_COLUMNS = ["mean", "std", "units", "ci95_low", "ci95_high"]
MEASURES = {  # measure -> how the figure and tables name it
    "transfer_drop": "transfer drop AnB - BnB (trained nets)",
    "one_minus_cka": "1 - CKA(baseA, baseB)",
    "probe_drop": "probe drop: probe on A's layer - probe on B's layer, for B",
}
CHEAP_MEASURES = ["one_minus_cka", "probe_drop"]
DECIMALS = 4


def read_units(paths: list) -> pd.DataFrame | None:
    """The per-unit tables of one analysis (similarity.csv or probes.csv of every split and seed) as one table;
    None where the analysis is off (no files)."""
    return pd.concat(map(pd.read_csv, paths), ignore_index=True) if paths else None


def split_group(split: str, split_kind: str) -> str:
    """Random splits are repetitions of one experiment; an explicit split is an experiment of its own."""
    return "random" if split_kind == "random" else split


def with_groups(table: pd.DataFrame, split_kinds: dict) -> pd.DataFrame:
    unknown = sorted(set(table["split"].astype(str)) - set(split_kinds))
    if unknown:
        raise ValueError(f"splits {unknown} are not in the config's splits ({sorted(split_kinds)})")
    groups = [split_group(str(s), split_kinds[str(s)]) for s in table["split"]]
    return table.assign(group=groups)


def summarise(table: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean, standard deviation, units and the 95% t interval of `value` per `keys` over clusters: the rows of
    one split and seed (its target halves) are averaged first. std and the interval are NaN (an empty CSV
    cell) for a single cluster."""
    if {"split", "seed"} <= set(table.columns) - set(keys):
        table = table.groupby(keys + ["split", "seed"], sort=True, dropna=False)[value].mean().reset_index()
    grouped = table.groupby(keys, sort=True, dropna=False)[value]
    summary = grouped.agg(mean="mean", std="std", units="count").reset_index()
    half_width = t_half_width(summary["std"] / np.sqrt(summary["units"]), summary["units"]).where(summary["units"] > 1)
    summary["ci95_low"], summary["ci95_high"] = summary["mean"] - half_width, summary["mean"] + half_width
    return summary[keys + SUMMARY_COLUMNS]


def similarity_summary(units: pd.DataFrame, split_kinds: dict) -> pd.DataFrame:
    """One row per group, pair of nets (baseA vs baseB, or a fine-tuned treatment vs its source), chop
    layer n of the fine-tuned net (empty for the base pair) and compared layer."""
    table = with_groups(units, split_kinds).assign(n=lambda t: t["n"].astype("Int64"))
    keys = ["group", "pair", "n", "layer", "layer_name"]
    return summarise(table, keys, "cka")


def probe_units(probes: pd.DataFrame) -> pd.DataFrame:
    """Per (split, seed, target half, layer): the probe on the other half's base net ("transfer"), on
    the target's own base net ("selffer"), and their difference ("drop", the analogue of AnB - BnB)."""
    own = probes[probes["source"] == probes["target"]].set_index(["split", "seed", "target", "layer"])["top1"]
    other = probes[probes["source"] != probes["target"]].set_index(["split", "seed", "target", "layer"])["top1"]
    joined = pd.concat({"selffer": own, "transfer": other}, axis=1).dropna()
    joined["drop"] = joined["transfer"] - joined["selffer"]
    return joined.reset_index()


def probe_summary(probes: pd.DataFrame, split_kinds: dict) -> pd.DataFrame:
    """Per group, probe (transfer: A's features for B; selffer: B's own; drop) and layer n."""
    units = with_groups(probe_units(probes), split_kinds)
    long = units.melt(id_vars=["group", "split", "seed", "target", "layer"],
                      value_vars=["transfer", "selffer", "drop"], var_name="probe", value_name="top1")
    return summarise(long.rename(columns={"layer": "n"}), ["group", "probe", "n"], "top1")


def transfer_drop_units(nets: pd.DataFrame) -> pd.DataFrame:
    """AnB - BnB per (split, seed, target half, n), from the nets table (frozen transfer vs selffer)."""
    full = nets[nets["images_per_class"].isna() & nets["top1"].notna()]
    cells = full.set_index(["split", "seed", "target", "n", "treatment"])["top1"]
    wide = cells.unstack("treatment")
    if not {"transfer", "selffer"} <= set(wide.columns):
        return pd.DataFrame(columns=["split", "seed", "target", "n", "value"])
    drop = (wide["transfer"] - wide["selffer"]).dropna().rename("value")
    return drop.reset_index()


def layer_measure_units(nets: pd.DataFrame, similarity: pd.DataFrame | None, probes: pd.DataFrame | None,
                        split_kinds: dict) -> pd.DataFrame:
    """Each cluster's value per group, measure (MEASURES) and layer n: what the figure draws and
    layer_measures summarises."""
    parts = [transfer_drop_units(nets).assign(measure="transfer_drop")]
    if similarity is not None:
        base = similarity[similarity["pair"] == "baseA vs baseB"]
        parts.append(base.assign(measure="one_minus_cka", n=base["layer"], value=1 - base["cka"]))
    if probes is not None:
        parts.append(probe_units(probes).assign(measure="probe_drop", n=lambda t: t["layer"],
                                                value=lambda t: t["drop"]))
    units = pd.concat([p[["split", "seed", "measure", "n", "value"]] for p in parts], ignore_index=True)
    units = with_groups(units[units["n"].between(1, 7)], split_kinds)
    return cluster_values(units, ["group", "measure", "n"], "value")


def layer_measures(nets: pd.DataFrame, similarity: pd.DataFrame | None, probes: pd.DataFrame | None,
                   split_kinds: dict) -> pd.DataFrame:
    """The combined figure's numbers: per group, measure (MEASURES) and layer n, mean and spread."""
    return summarise(layer_measure_units(nets, similarity, probes, split_kinds), ["group", "measure", "n"], "value")


def rank_correlations(measures: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rank correlation, over the layers n, between each cheap measure's mean and the mean
    transfer drop, per group. A cheap measure that predicts the drop has rho near -1 for 1 - CKA (more
    dissimilar, larger loss, AnB - BnB more negative) and near +1 for the probe drop (same sign)."""
    rows = []
    for group, table in measures.groupby("group"):
        means = table.pivot(index="n", columns="measure", values="mean")
        units = table.groupby("measure")["units"].min()
        for measure in CHEAP_MEASURES:
            if measure not in means or "transfer_drop" not in means:
                continue
            pairs = means[[measure, "transfer_drop"]].dropna()
            rho, p_value = np.nan, np.nan
            if len(pairs) >= 3 and pairs.nunique().min() > 1:
                rho, p_value = spearman(pairs[measure].to_numpy(), pairs["transfer_drop"].to_numpy())
            rows.append({"group": group, "measure": measure, "against": "transfer_drop",
                         "spearman_rho": rho, "p_value": p_value, "layers": len(pairs),
                         "expected_sign": -1 if measure == "one_minus_cka" else 1,
                         "units_measure": units[measure], "units_transfer_drop": units["transfer_drop"]})
    return pd.DataFrame(rows, columns=["group", "measure", "against", "spearman_rho", "p_value", "layers",
                                       "expected_sign", "units_measure", "units_transfer_drop"])


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its exact two-sided p value over every order of the layers (at most 7! = 5,040).
    scipy's spearmanr p comes from a t approximation that says p = 0 for a perfect order of 4 layers,
    whose exact p is 2/24 = 0.083: with so few layers only the exact test is honest."""
    rho = stats.spearmanr(x, y).statistic
    exact = stats.permutation_test((x,), lambda order: stats.spearmanr(order, y).statistic,
                                   permutation_type="pairings", n_resamples=np.inf)
    return float(rho), float(exact.pvalue)


def rounded(table: pd.DataFrame) -> pd.DataFrame:
    return table.round(DECIMALS)
