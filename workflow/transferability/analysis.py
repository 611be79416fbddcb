"""The analysis tables: per-layer means, the paper's effects and findings, and the paper's own numbers.

Functions take and return tidy pandas DataFrames (nets.csv rows, see the design) and round nothing;
formatting is the caller's. Only the `paper_*` loaders read files (the package's paper/ data)."""

import math
from importlib import resources

import numpy as np
import pandas as pd

PER_LAYER_COLUMNS = ["split_kind", "target", "treatment", "n",
                     "mean", "std", "sem", "count", "ci95", "top5_mean"]
EFFECT_COLUMNS = ["split_kind", "target", "effect", "n", "value", "sem", "count_a", "count_b"]
FINDING_COLUMNS = ["finding", "statement", "measured", "value", "spread", "reproduced"]
NETS_COLUMNS = ["dataset", "split", "split_kind", "seed", "net", "treatment", "source", "target", "n",
                "fine_tuned", "images_per_class", "top1", "top5"]

# effect -> (treatment a, treatment b): value = mean(a at n) - mean(b at n), or b's n = 0 row for "base".
# transfer_drop on an explicit split is the paper's dissimilar-task drop (Section 4.2).
EFFECTS = {
    "co_adaptation": ("selffer", "base"),
    "specificity": ("transfer", "selffer"),
    "boost": ("transfer_ft", "base"),
    "fine_tune_recovery": ("selffer_ft", "base"),
    "transfer_drop": ("transfer", "base"),
    "random_frozen_drop": ("random_frozen", "base"),
}

# Two-sided 95% Student t quantiles for 1..30 degrees of freedom (scipy is not a dependency).
_T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423]


def t_quantile_975(df: int) -> float:
    """t quantile for a 95% interval; 0 for df < 1 (a single net has no spread)."""
    if df < 1:
        return 0.0
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964  # Cornish-Fisher expansion: within 1e-4 of the exact value beyond 30 df
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def _text(column):
    """Missing text as "" (an all-empty CSV column reads back as float NaN)."""
    return column.astype(object).where(column.notna(), "")


def per_layer_table(nets: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of top-1 per split_kind, target, treatment and n; reduced-data nets are left out.
    Random halves are symmetric, so both directions are pooled (target "", as the paper does); the
    halves of an explicit split are not (natural vs man-made), so each target half keeps its own rows."""
    full = _target_bases_only(nets[nets["images_per_class"].isna() & nets["top1"].notna()])
    full = full.assign(target=_text(full["target"]).where(full["split_kind"] == "explicit", ""))
    table = (full.groupby(["split_kind", "target", "treatment", "n"])
             .agg(mean=("top1", "mean"), std=("top1", "std"), count=("top1", "size"),
                  top5_mean=("top5", "mean"))
             .reset_index())
    table["std"] = table["std"].fillna(0.0)
    table["sem"] = table["std"] / np.sqrt(table["count"])
    table["ci95"] = table["sem"] * table["count"].map(lambda c: t_quantile_975(c - 1))
    return table[PER_LAYER_COLUMNS]


def _target_bases_only(nets: pd.DataFrame) -> pd.DataFrame:
    """Base nets of halves that no other net targets are not references: with the A->B direction only,
    BnB and AnB compare with baseB, not with baseA (which is trained on another task)."""
    is_base = nets["treatment"] == "base"
    columns = [c for c in ("split", "seed", "target") if c in nets]
    targeted = set(map(tuple, nets.loc[~is_base, columns].astype(str).values))
    if not targeted:
        return nets
    keys = nets[columns].astype(str).apply(tuple, axis=1)
    return nets[~is_base | keys.isin(targeted)]


def effects_table(per_layer: pd.DataFrame) -> pd.DataFrame:
    """The paper's effects per split_kind, target and n >= 1, with the standard error of each
    difference; for explicit splits also the mean of the directions (target ""). An effect whose
    treatments were not run is simply absent."""
    rows = []
    per_layer = per_layer.assign(target=_text(per_layer["target"]))  # CSV reads "" back as NaN
    for (split_kind, target), table in per_layer.groupby(["split_kind", "target"]):
        cells = {(r.treatment, r.n): r for r in table.itertuples()}
        for effect, (a, b) in EFFECTS.items():
            for n in sorted(n for treatment, n in cells if treatment == a and n >= 1):
                cell_a, cell_b = cells[(a, n)], cells.get((b, 0 if b == "base" else n))
                if cell_b is not None:
                    rows.append({"split_kind": split_kind, "target": target, "effect": effect, "n": n,
                                 "value": cell_a.mean - cell_b.mean,
                                 "sem": math.hypot(cell_a.sem, cell_b.sem),
                                 "count_a": cell_a.count, "count_b": cell_b.count})
    effects = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    directed = effects[effects["target"] != ""]
    return pd.concat([effects, _direction_means(directed)], ignore_index=True) if len(directed) else effects


def paired_effects(nets: pd.DataFrame) -> pd.DataFrame:
    """effects_table's effects, computed where they are paired: within one split, seed and target half
    (a net minus the base net of its own half and seed), then averaged over those units. Halves differ
    in difficulty; pairing keeps that difference out of the spread. Same columns as effects_table."""
    full = _target_bases_only(nets[nets["images_per_class"].isna() & nets["top1"].notna()])
    diffs = []
    for _, unit in full.groupby([c for c in ("split_kind", "split", "seed", "target") if c in full]):
        cells = {(r.treatment, r.n): r.top1 for r in unit.itertuples()}
        kind, target = unit["split_kind"].iloc[0], unit["target"].iloc[0] if unit["split_kind"].iloc[0] == "explicit" else ""
        for effect, (a, b) in EFFECTS.items():
            for (treatment, n), value in cells.items():
                reference = cells.get((b, 0 if b == "base" else n))
                if treatment == a and n >= 1 and reference is not None:
                    diffs.append((kind, target, effect, n, value - reference))
    diffs = pd.DataFrame(diffs, columns=["split_kind", "target", "effect", "n", "diff"])
    effects = (diffs.groupby(["split_kind", "target", "effect", "n"], sort=False)["diff"]
               .agg(value="mean", std="std", count_a="size").reset_index())
    effects["sem"] = (effects["std"] / np.sqrt(effects["count_a"])).fillna(0.0)
    effects = effects.assign(count_b=effects["count_a"])[EFFECT_COLUMNS]
    directed = effects[effects["target"] != ""]
    return pd.concat([effects, _direction_means(directed)], ignore_index=True) if len(directed) else effects


def _direction_means(directed):
    """Mean of an effect over the directions of an explicit split (Figure 3 bottom), only at the n
    where every direction was run; sem of a mean of independent terms = sqrt(sum sem^2) / k."""
    needed = directed.groupby("split_kind")["target"].transform("nunique")
    means = (directed.assign(needed=needed).groupby(["split_kind", "effect", "n"])
             .agg(value=("value", "mean"), sem=("sem", lambda s: math.sqrt((s**2).sum()) / len(s)),
                  count_a=("count_a", "sum"), count_b=("count_b", "sum"),
                  directions=("target", "size"), needed=("needed", "first"))
             .reset_index())
    return means[means["directions"] == means["needed"]].assign(target="")[EFFECT_COLUMNS]


def _effect(effects, name, split_kind="random"):
    rows = effects[(effects["effect"] == name) & (effects["split_kind"] == split_kind)
                   & (effects["target"] == "")]
    return rows.sort_values("n").set_index("n")


def _finding(finding, statement, measured=None, value=np.nan, spread=np.nan, reproduced=None):
    return dict(finding=finding, statement=statement, measured=measured or "not measurable (not run)",
                value=value, spread=spread, reproduced=reproduced)


def _mean_over_n(rows):
    """Mean effect over layers; spread = mean of the per-layer sems (conservative: the layers share
    their base nets, so their errors are correlated, not independent)."""
    return rows["value"].mean(), rows["sem"].mean()


def findings(per_layer: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """The paper's five findings plus Sections 4.2 and 4.3, each judged by the criterion in its
    statement. "Beyond spread" means by more than 2 standard errors. reproduced is None when the
    inputs were not run (or, for finding 1, because the level depends on the data set)."""
    rows = []
    base = per_layer[(per_layer["split_kind"] == "random") & (per_layer["treatment"] == "base")
                     & (per_layer["target"] == "")]
    statement = ("1. baseB reaches about 62.5% top-1 on its ImageNet half; the level depends on the "
                 "data set, so it is reported, not judged.")
    rows.append(_finding("1", statement, "mean top-1 of the base nets", base["mean"].iloc[0],
                         base["sem"].iloc[0]) if len(base) else _finding("1", statement))

    co = _effect(effects, "co_adaptation")
    statement = ("2. Fragile co-adaptation: BnB dips below baseB at middle layers. Reproduced if the "
                 "minimum over n of BnB - baseB is below 0 beyond spread and below its value at the first n.")
    if len(co) >= 2:
        worst = co["value"].idxmin()
        value, spread = co.loc[worst, "value"], co.loc[worst, "sem"]
        rows.append(_finding("2", statement, f"min over n of BnB - baseB (at n={worst})", value, spread,
                             bool(value < -2 * spread and value < co["value"].iloc[0])))
    else:
        rows.append(_finding("2", statement))

    recovery = _effect(effects, "fine_tune_recovery")
    statement = ("3. Fine-tuning recovers the co-adapted interactions: BnB+ matches baseB. Reproduced if "
                 "the mean over n of BnB+ - baseB is not below 0 beyond spread.")
    if len(recovery):
        value, spread = _mean_over_n(recovery)
        rows.append(_finding("3", statement, "mean over n of BnB+ - baseB", value, spread,
                             bool(value >= -2 * spread)))
    else:
        rows.append(_finding("3", statement))

    specificity = _effect(effects, "specificity")
    statement = ("4. Representation specificity: AnB falls below BnB at the top layers. Reproduced if "
                 "AnB - BnB at the deepest n (7 in the paper) is below 0 beyond spread.")
    if len(specificity):
        deepest = specificity.index.max()
        value, spread = specificity.loc[deepest, "value"], specificity.loc[deepest, "sem"]
        rows.append(_finding("4", statement, f"AnB - BnB at n={deepest}", value, spread,
                             bool(value < -2 * spread)))
    else:
        rows.append(_finding("4", statement))

    boost = _effect(effects, "boost")
    statement = ("5. Transfer + fine-tuning improves generalisation: AnB+ is above baseB. Reproduced if "
                 "the mean over n of AnB+ - baseB is above 0 beyond spread.")
    if len(boost):
        value, spread = _mean_over_n(boost)
        rows.append(_finding("5", statement, "mean over n of AnB+ - baseB", value, spread,
                             bool(value > 2 * spread)))
    else:
        rows.append(_finding("5", statement))

    rows.append(_dissimilar_finding(effects))
    rows.append(_random_frozen_finding(effects))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _dissimilar_finding(effects):
    statement = ("4.2. Transfer hurts more between dissimilar halves. Reproduced if AnB - base on the "
                 "explicit (dissimilar) split is below that on the random split, beyond spread, at the "
                 "deepest n both have.")
    dissimilar = _effect(effects, "transfer_drop", "explicit")
    similar = _effect(effects, "transfer_drop", "random")
    common = dissimilar.index.intersection(similar.index)
    if common.empty:
        return _finding("4.2", statement)
    n = common.max()
    value = dissimilar.loc[n, "value"] - similar.loc[n, "value"]
    spread = math.hypot(dissimilar.loc[n, "sem"], similar.loc[n, "sem"])
    return _finding("4.2", statement, f"dissimilar minus random-split transfer drop at n={n}",
                    value, spread, bool(value < -2 * spread))


def _random_frozen_finding(effects):
    statement = ("4.3. Random frozen layers hurt far more than transferred ones. Reproduced if the mean "
                 "over n of random-frozen - its base is below the mean of AnB - baseB (random split) "
                 "over the same n, beyond spread.")
    frozen = (effects[(effects["effect"] == "random_frozen_drop") & (effects["target"] == "")]
              .groupby("n")[["value", "sem"]].mean())  # any split_kind: the paper's was unsplit
    transfer = _effect(effects, "transfer_drop", "random")
    common = frozen.index.intersection(transfer.index)
    if common.empty:
        return _finding("4.3", statement)
    frozen_value, frozen_spread = _mean_over_n(frozen.loc[common])
    transfer_value, transfer_spread = _mean_over_n(transfer.loc[common])
    value, spread = frozen_value - transfer_value, math.hypot(frozen_spread, transfer_spread)
    return _finding("4.3", statement, "mean over n of random-frozen drop minus transfer drop",
                    value, spread, bool(value < -2 * spread))


def paper_reference() -> pd.DataFrame:
    """The authors' per-network results, as shipped in the package (see paper/README.md)."""
    source = resources.files(__package__) / "paper" / "yosinski2014_results.csv"
    with resources.as_file(source) as path:
        return pd.read_csv(path, dtype={"split": str})


def paper_nets() -> pd.DataFrame:
    """The paper's nets in nets.csv format, so every table and figure can be drawn for them too.
    natman -> split_kind "explicit" with targets named natural / man-made (the log letters are swapped
    vs the paper: A = natural); 1000-class nets -> split_kind "unsplit", where netbase_1000class is the
    base of random_frozen and the reduced nets are bases with images_per_class set."""
    ref = paper_reference().dropna(subset=["top1"])
    natman = ref["split"] == "natman"
    semantic = {"A": "natural", "B": "man-made"}
    return pd.DataFrame({
        "dataset": "imagenet",
        "split": ref["split"].fillna(""),
        "split_kind": np.select([natman, ref["split"].notna()], ["explicit", "random"], "unsplit"),
        "seed": 0,
        "net": ref["network"],
        "treatment": ref["experiment"].replace({"natman_base": "base", "natman_transfer": "transfer",
                                                "netbase_1000class": "base", "reduced": "base"}),
        "source": ref["source"].where(~natman, ref["source"].map(semantic)).fillna(""),
        "target": ref["target_semantic"].where(natman, ref["target"]).fillna(""),
        "n": ref["n"],
        "fine_tuned": ref["fine_tuned"].astype(bool),
        "images_per_class": ref["network"].str.extract(r"^reduced-(\d+)$", expand=False).astype(float),
        "top1": ref["top1"],
        "top5": np.nan,
    })[NETS_COLUMNS].reset_index(drop=True)


def paper_per_layer() -> pd.DataFrame:
    """The paper's per-layer means in per_layer_table's format (baseB = mean of all 8 half nets, AnB =
    mean over both directions and all splits, as the authors' notebook averages)."""
    return per_layer_table(paper_nets())


def compare_with_paper(per_layer: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Our per-layer means beside the paper's: ours, paper, difference = ours - paper.
    The paper ran random_frozen on the unsplit 1000-class task; ours runs on the random halves, so
    its rows are compared there (the unsplit base stays apart)."""
    paper = paper.assign(split_kind=paper["split_kind"].mask(paper["treatment"] == "random_frozen", "random"))
    keys = ["split_kind", "target", "treatment", "n"]
    merged = pd.merge(per_layer[keys + ["mean", "count"]], paper[keys + ["mean", "count"]],
                      on=keys, how="outer", suffixes=("_ours", "_paper"))
    merged = merged.rename(columns={"mean_ours": "ours", "mean_paper": "paper",
                                    "count_ours": "ours_count", "count_paper": "paper_count"})
    merged["difference"] = merged["ours"] - merged["paper"]
    return merged[keys + ["ours", "paper", "difference", "ours_count", "paper_count"]]
