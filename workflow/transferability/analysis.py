"""The analysis tables: per-layer means, the paper's effects, the paper's findings as stated tests, and the
paper's own numbers.

The *unit* of replication is what is independent: one split and seed (a cluster). Its two target halves are
not: they share the class partition, and one half's base net is the other half's source. So an effect is
first paired within a net's own split, seed and half (a net minus the base net of its half, or AnB minus BnB
at the same n: tables/unit_effects.csv), then averaged over the cluster's target halves, and only these
cluster values are summarised and tested: mean, standard error and a 95% t interval with df = clusters - 1.
One cluster has no spread: its standard error and interval are empty (NaN), never 0.

A finding shows the interval its test used: the one-sided confidence bound on the side the test looks at
([ci_low, ci_high] with the other end infinite, at `confidence`), so a test rejects (p < ALPHA) exactly where
that interval excludes the test's null (`null`). Finding 1, which is reported, not tested, shows a two-sided
95% interval computed on the logit scale, so that it stays within [0, 1].

Groups: all random splits of a data set are pooled (random halves are exchangeable draws, so each random
split adds a cluster); every other split is a group of its own (two explicit splits are never pooled), named
by its split, with its seeds as clusters. split_kind is random, explicit, dissimilar (an explicit split the
config marks `dissimilar: true`) or unsplit (the whole task). docs/statistics.md states every test.

Every function works per data set (the `dataset` column): several data sets, or many simulated tables,
are analysed in one call. Functions take and return tidy pandas DataFrames and round nothing;
formatting is the caller's. Only the `paper_*` loaders read files (the package's paper/ data)."""

import functools
from importlib import resources
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from .freezing import freezing_table
from .tables import ALPHA, p_rounded

MARGIN = 0.01  # finding 3: BnB+ recovers if, at every n, it is not more than one point of top-1 below baseB
FAR_WORSE = 0.05  # finding 4.3: random frozen layers are far worse if 5 points of top-1 below AnB or more
MIDDLE = (3, 4, 5)  # finding 2: the middle layers of the paper's dip (those run, below the deepest n run)
POWER_WANTED = 0.8  # below this power at the paper's effect a test that did not reject says "not shown"

PER_LAYER_COLUMNS = ["dataset", "split_kind", "split", "target", "treatment", "n", "count",
                     "mean", "std", "sem", "ci95_low", "ci95_high", "top5_mean"]
EFFECT_COLUMNS = ["dataset", "split_kind", "split", "target", "effect", "n", "units",
                  "mean", "sem", "ci95_low", "ci95_high"]
REDUCED_COLUMNS = ["dataset", "split_kind", "split", "target", "images_per_class", "count", "mean", "std", "sem",
                   "ci95_low", "ci95_high"]
FINDING_COLUMNS = ["dataset", "finding", "statement", "test", "measured", "units", "value", "null",
                   "ci_low", "ci_high", "confidence", "p_value", "outcome", "why"]
NETS_COLUMNS = ["dataset", "split", "split_kind", "seed", "net", "treatment", "source", "target", "n",
                "fine_tuned", "images_per_class", "top1", "top5"]
OUTCOMES = ("reproduced", "not reproduced", "not shown", "undetermined")
SEPARATE_HALVES = ("explicit", "dissimilar")  # split kinds whose target halves differ in kind
UNIT = ["dataset", "split_kind", "group", "split", "seed", "target"]  # group: the split, or "random"
CLUSTER = ["dataset", "split_kind", "group", "split", "seed"]  # the independent unit: a split and seed

# effect -> (treatment a, treatment b): a net of a at n minus b at the same n, or minus the base net of
# its unit for "base". transfer_drop on a dissimilar split is the paper's Section 4.2 drop.
EFFECTS = {
    "co_adaptation": ("selffer", "base"),
    "specificity": ("transfer", "selffer"),
    "boost": ("transfer_ft", "base"),
    "fine_tune_recovery": ("selffer_ft", "base"),
    "transfer_drop": ("transfer", "base"),
    "random_frozen_drop": ("random_frozen", "base"),
    # beyond the paper: fine-tuning the copied layers at a tenth of the rate (nets.TREATMENTS)
    "low_lr_boost": ("transfer_ft_lowlr", "base"),
    "low_lr_vs_fine_tuning": ("transfer_ft_lowlr", "transfer_ft"),
}


def _text(column):
    """Missing text as "" (an all-empty CSV column reads back as float NaN)."""
    return column.astype(object).where(column.notna(), "").astype(str)


def _with_units(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with the unit's columns filled in (a hand-made table may lack dataset, split or seed)
    and their group."""
    defaults = {"dataset": "", "split": "", "seed": 0, "last_epoch_gain": np.nan}
    rows = rows.assign(**{c: v for c, v in defaults.items() if c not in rows})
    rows = rows.assign(dataset=_text(rows["dataset"]), split=_text(rows["split"]), target=_text(rows["target"]))
    return rows.assign(group=rows["split"].where(rows["split_kind"] != "random", "random"))


def _full_training(nets: pd.DataFrame) -> pd.DataFrame:
    """The nets of the transfer grid that have a result (reduced-data nets left out), with their units."""
    full = nets[nets["images_per_class"].isna() & nets["top1"].notna()]
    return _target_bases_only(_with_units(full))


def _target_bases_only(full: pd.DataFrame) -> pd.DataFrame:
    """Base nets of halves that no other net targets are not references: with the A->B direction only,
    BnB and AnB compare with baseB, not with baseA (which is trained on another task)."""
    is_base = full["treatment"] == "base"
    keys = ["dataset", "split", "seed", "target"]
    targeted = full.loc[~is_base, keys].drop_duplicates()
    if targeted.empty:
        return full
    reference = full[keys].merge(targeted.assign(targeted=True), on=keys, how="left")["targeted"]
    return full[~is_base.to_numpy() | reference.notna().to_numpy()]


def t_half_width(sem, count):
    """Half the width of the two-sided 95% t interval of a mean of `count` independent values with standard
    error `sem` (NaN for one value: df = 0). Every interval the tables report and the figures draw."""
    return stats.t.ppf(0.975, np.asarray(count) - 1) * sem


def t_interval(values) -> tuple[float, float]:
    """The 95% t interval of the mean of independent values, as the tables report it ((NaN, NaN) for fewer
    than two): the `errorbar` the figures give seaborn."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return np.nan, np.nan
    half_width = t_half_width(values.std(ddof=1) / np.sqrt(len(values)), len(values))
    return values.mean() - half_width, values.mean() + half_width


def cluster_values(table, keys, value) -> pd.DataFrame:
    """One row per `keys` and cluster (split and seed), its rows' `value` averaged (e.g. its two target
    halves, pooled): the independent values behind every mean and interval."""
    return table.groupby(keys + ["split", "seed"], sort=True)[value].mean().reset_index()


def _summary(table, keys, value, count="units"):
    """Mean, standard error and 95% t interval of `value` per `keys` over clusters (see cluster_values);
    empty spread for one cluster."""
    table = cluster_values(table, keys, value)
    out = table.groupby(keys, sort=True)[value].agg(**{count: "size", "mean": "mean", "std": "std"}).reset_index()
    out["sem"] = out["std"] / np.sqrt(out[count])
    half_width = t_half_width(out["sem"], out[count])
    out["ci95_low"], out["ci95_high"] = out["mean"] - half_width, out["mean"] + half_width
    return out


def _pooled_halves(rows: pd.DataFrame) -> pd.DataFrame:
    """Target "" where both directions are pooled: random halves are symmetric (as the paper pools
    them); the halves of an explicit split are not (natural vs man-made) and keep their target."""
    return rows.assign(target=rows["target"].where(rows["split_kind"].isin(SEPARATE_HALVES), ""))


PER_LAYER_KEYS = ["dataset", "split_kind", "group", "target", "treatment", "n"]  # one row of per_layer.csv


def per_layer_units(nets: pd.DataFrame) -> pd.DataFrame:
    """The cluster values behind each row of per_layer.csv (PER_LAYER_KEYS, split, seed, top1)."""
    return cluster_values(_pooled_halves(_full_training(nets)), PER_LAYER_KEYS, "top1")


def per_layer_table(nets: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of top-1 per data set, split group, target, treatment and n (both directions
    pooled on random splits, see _pooled_halves)."""
    full = _pooled_halves(_full_training(nets))
    keys = PER_LAYER_KEYS
    table = _summary(full, keys, "top1", count="count")
    table["top5_mean"] = full.groupby(keys, sort=True)["top5"].mean().to_numpy()
    return table.rename(columns={"group": "split"})[PER_LAYER_COLUMNS]


def unit_effects(nets: pd.DataFrame) -> pd.DataFrame:
    """Every effect in every unit where both of its nets were run: UNIT columns, effect, n, diff."""
    full = _full_training(nets)
    frames = []
    for effect, (a, b) in EFFECTS.items():
        on = UNIT if b == "base" else UNIT + ["n"]
        nets_a = full.loc[(full["treatment"] == a) & (full["n"] >= 1), UNIT + ["n", "top1"]]
        pairs = nets_a.merge(full.loc[full["treatment"] == b, on + ["top1"]], on=on, suffixes=("", "_b"))
        frames.append(pairs.assign(effect=effect, diff=pairs["top1"] - pairs["top1_b"]))
    columns = UNIT + ["effect", "n", "diff"]
    return pd.concat([f[columns] for f in frames], ignore_index=True) if frames else pd.DataFrame(columns=columns)


EFFECT_KEYS = ["dataset", "split_kind", "group", "target", "effect", "n"]  # one row of effects.csv


def effect_samples(units: pd.DataFrame) -> pd.DataFrame:
    """The cluster values behind each row of effects.csv (rows by EFFECT_KEYS): each split and seed's mean
    over its target halves with target "" (the directions pooled), and the clusters of explicit and
    dissimilar splits again under each target half (one row per direction of transfer)."""
    keys = CLUSTER + ["effect", "n"]
    pooled = units.groupby(keys, sort=True)["diff"].mean().reset_index().assign(target="")
    per_half = units[units["split_kind"].isin(SEPARATE_HALVES)]
    return pd.concat([pooled, per_half], ignore_index=True)[UNIT + ["effect", "n", "diff"]]


def effects_table(units: pd.DataFrame) -> pd.DataFrame:
    """The effects per data set, group, target and n over their units (see effect_samples)."""
    table = _summary(effect_samples(units), EFFECT_KEYS, "diff")
    return table.rename(columns={"group": "split"})[EFFECT_COLUMNS]


REDUCED_KEYS = ["dataset", "split_kind", "group", "target", "images_per_class"]  # one row of reduced_data.csv


def _reduced_nets(nets: pd.DataFrame) -> pd.DataFrame:
    reduced = _pooled_halves(_with_units(nets[nets["images_per_class"].notna() & nets["top1"].notna()]))
    return reduced.astype({"images_per_class": int})


def reduced_data_units(nets: pd.DataFrame) -> pd.DataFrame:
    """The cluster values behind each row of reduced_data.csv (REDUCED_KEYS, split, seed, top1)."""
    return cluster_values(_reduced_nets(nets), REDUCED_KEYS, "top1")


def reduced_data_table(nets: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of top-1 of the base nets trained on fewer images per class, per data set, split
    group, target (pooled as in per_layer_table) and images per class."""
    table = _summary(_reduced_nets(nets), REDUCED_KEYS, "top1", count="count")
    return table.rename(columns={"group": "split"})[REDUCED_COLUMNS]


CURVE_COLUMNS = ["dataset", "split_kind", "split", "target", "treatment", "n", "epoch", "units", "mean", "std", "sem",
                 "ci95_low", "ci95_high"]


def training_curves(epochs: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over units of the validation top-1 after each epoch, per data set, split group,
    target (pooled as in per_layer_table), treatment and n, from the epochs table of the transfer grid's
    nets (reduced-data nets left out)."""
    return _summary(_curve_epochs(epochs), CURVE_KEYS, "val_top1").rename(columns={"group": "split"})[CURVE_COLUMNS]


CURVE_KEYS = PER_LAYER_KEYS + ["epoch"]  # one row of training_curves.csv


def _curve_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    return _pooled_halves(_full_training(epochs.assign(top1=epochs["val_top1"])))


def training_curve_units(epochs: pd.DataFrame) -> pd.DataFrame:
    """The cluster values behind each row of training_curves.csv (CURVE_KEYS, split, seed, val_top1)."""
    return cluster_values(_curve_epochs(epochs), CURVE_KEYS, "val_top1")


def summarize(nets: pd.DataFrame) -> dict:
    """What the summarize command writes: table name (SUMMARY_TABLES) -> table, from a nets.csv table."""
    units = unit_effects(nets)
    return {"per_layer": per_layer_table(nets), "effects": effects_table(units),
            "unit_effects": units, "reduced_data": reduced_data_table(nets),
            "findings": findings(nets, units), "freezing": freezing_table(per_layer_units(nets))}


# ---- the findings: each a stated test at ALPHA over units ------------------------------------------

STATEMENTS = {
    "1": "1. baseB reaches about 62.5% top-1 on its ImageNet half; the level depends on the data set.",
    "2": "2. Fragile co-adaptation: BnB dips below baseB at the middle layers and recovers at the top.",
    "3": "3. Fine-tuning recovers the co-adapted interactions: BnB+ is not below baseB at any n.",
    "4": "4. Representation specificity: AnB falls below BnB at the top layers.",
    "5": "5. Transfer + fine-tuning improves generalisation: AnB+ is above BnB+, trained as long.",
    "4.2": "4.2. Transfer hurts more between dissimilar halves than between random ones.",
    "4.3": "4.3. Random frozen layers hurt far more than transferred ones from n = 3 on.",
}
_CLUSTERS = "over clusters (a split and seed; its target halves averaged)"
TESTS = {
    "1": "None: reported, not judged (mean top-1 of the random splits' base nets over clusters, two-sided 95% "
         "t interval on the logit scale).",
    "2": (f"Intersection-union test of two one-sided t tests {_CLUSTERS}: the mean over the middle layers "
          f"(n = 3-5 run below the deepest n) of BnB - baseB < 0, and of BnB(middle) - BnB(deepest n) < 0; "
          f"reproduced if both p < {ALPHA} (p: the larger; the bound shown is that test's)."),
    "3": (f"Intersection-union non-inferiority test {_CLUSTERS}: at every n run in two clusters or more, "
          f"BnB+ - baseB > -{MARGIN} (one point of top-1) by a one-sided t test; reproduced if every p < {ALPHA} "
          f"(p and bound: the worst n)."),
    "4": f"One-sided t test of AnB - BnB < 0 at the deepest n run (7 in the paper), {_CLUSTERS}; p < {ALPHA}.",
    "5": (f"One-sided t test of the mean over n of (AnB+ - base) - (BnB+ - base) > 0 {_CLUSTERS}: the boost "
          f"beyond what the same extra training gives a selffer; p < {ALPHA}."),
    "4.2": (f"One-sided Welch t test (df of the smaller side) of AnB - base at the deepest n both run: the clusters "
            f"of the split marked dissimilar below those of the random splits; p < {ALPHA}."),
    "4.3": (f"One-sided t test of the mean over n >= 3 of random frozen - AnB < -{FAR_WORSE} (five points of "
            f"top-1), paired within the random splits' clusters; a Welch test (df of the smaller side) where the "
            f"random-frozen nets ran on the whole task; p < {ALPHA}."),
}
# Each test's direction, and whether a base net that was still improving at its last epoch could have made
# its outcome: nets started from a base net's layers trained longer, which can only raise them against the
# base net. That pushes 2's BnB - baseB up (against reproducing it) and 3's BnB+ - baseB up (towards it).
# 5 compares two such nets, 4 and 4.3 two nets of equal training: no such bias.
BIASED_BY_SHORT_TRAINING = {"2": "less", "3": "greater"}


def _t_tests(values: pd.Series, by, alternative, null=0.0) -> pd.DataFrame:
    """One-sample t test of the cluster values of each `by` group (index levels) against `null`, with the
    group's mean. alternative: "less" or "greater". p is NaN with one cluster."""
    out = values.groupby(level=by).agg(units="size", value="mean", std="std").assign(null=null)
    sem = out["std"] / np.sqrt(out["units"])
    return _with_p(out, (out["value"] - null) / sem, sem, out["units"] - 1, alternative)


def _with_p(out, t, sem, df, alternative):
    """The test's p value, with what its confidence bound needs (see _with_bound)."""
    df = df.where(df >= 1)
    p_value = stats.t.cdf(t, df) if alternative == "less" else stats.t.sf(t, df)
    return out.assign(p_value=p_value, sem=sem, df=df, alternative=alternative)


def _with_bound(test, confidence=1 - ALPHA):
    """The confidence bound that matches the test: one-sided on the side it looks at (an upper bound for
    "less", a lower one for "greater"), so the test's p is below 1 - confidence exactly where
    [ci_low, ci_high] excludes the null. Empty without a spread."""
    reach = stats.t.ppf(confidence, test["df"]) * test["sem"]
    less = test["alternative"] == "less"
    return test.assign(ci_low=(test["value"] - reach).mask(less, -np.inf).where(reach.notna()),
                       ci_high=(test["value"] + reach).mask(~less, np.inf).where(reach.notna()),
                       confidence=confidence)


def _welch(first: pd.Series, second: pd.Series, alternative, null=0.0) -> pd.DataFrame:
    """Welch's two-sample t test per data set of mean(first) - mean(second) against `null`: each side's own
    variance (a dissimilar split may be noisier than the random ones), with the conservative df of the smaller
    side, min(n_a, n_b) - 1: Satterthwaite's df said reproduced on 6.5% of 2,000 noise tables with two clusters
    of a split three times as noisy. Untestable (NaN) unless both sides have two clusters or more."""
    a = first.groupby(level="dataset").agg(n_a="size", m_a="mean", v_a="var")
    b = second.groupby(level="dataset").agg(n_b="size", m_b="mean", v_b="var")
    out = a.join(b, how="inner")
    sem = np.sqrt(out["v_a"] / out["n_a"] + out["v_b"] / out["n_b"]).where((out["n_a"] >= 2) & (out["n_b"] >= 2))
    df = np.minimum(out["n_a"], out["n_b"]) - 1.0
    out = out.assign(units=out["n_a"] + out["n_b"], value=out["m_a"] - out["m_b"], null=null)
    return _with_p(out, (out["value"] - null) / sem, sem, df.where(sem.notna(), 0), alternative)


def _cluster_means(rows: pd.DataFrame, by=()) -> pd.Series:
    """Each cluster's mean of `diff` (over its target halves and n, or per `by`), indexed by data set, cluster
    and `by`: the values every test is run on."""
    return rows.groupby(["dataset", "split", "seed", *by])["diff"].mean()


def _effect_rows(units, effect, kinds=("random",)):
    return units[(units["effect"] == effect) & units["split_kind"].isin(kinds)]


def _at_deepest_n(rows):
    return rows[rows["n"] == rows.groupby("dataset")["n"].transform("max")]


def _base_level(full, units):
    """Mean top-1 of the random splits' base nets over clusters, its interval from a t interval of the clusters'
    logits (a two-sided interval on the raw scale can pass 100%)."""
    bases = full[(full["split_kind"] == "random") & (full["treatment"] == "base")]
    clusters = bases.groupby(["dataset", "split", "seed"])["top1"].mean()
    logits = np.log(clusters.clip(1e-6, 1 - 1e-6) / (1 - clusters.clip(1e-6, 1 - 1e-6)))
    test = _t_tests(logits, "dataset", "greater")
    half_width = stats.t.ppf(1 - ALPHA / 2, test["df"]) * test["sem"]
    return test.assign(finding="1", measured="mean top-1 of the base nets", p_value=np.nan, null=np.nan,
                       value=clusters.groupby(level="dataset").mean(), ci_low=expit(test["value"] - half_width),
                       ci_high=expit(test["value"] + half_width), confidence=1 - ALPHA)


def expit(x):
    return 1 / (1 + np.exp(-x))


def _co_adaptation(full, units):
    """The dip: the middle layers below the base, and below the deepest layer (intersection-union: both)."""
    rows = _effect_rows(units, "co_adaptation")
    deepest = rows.groupby("dataset")["n"].transform("max")
    middle, top = rows[rows["n"].isin(MIDDLE) & (rows["n"] < deepest)], rows[rows["n"] == deepest]
    if middle.empty:
        return None
    middle_means = _cluster_means(middle)
    below_base = _with_bound(_t_tests(middle_means, "dataset", "less"))
    below_top = _with_bound(_t_tests((middle_means - _cluster_means(top)).dropna(), "dataset", "less"))
    below_top = below_top.reindex(below_base.index)
    binding = below_top["p_value"].isna() | (below_top["p_value"] > below_base["p_value"])
    layers = middle.groupby("dataset")["n"].unique().map(lambda ns: ",".join(map(str, sorted(ns))))
    deepest_n = top.groupby("dataset")["n"].max().astype(str)
    measured = pd.Series(np.where(binding, "BnB at n=" + layers + " minus BnB at n=" + deepest_n,
                                  "mean over n=" + layers + " of BnB - baseB"), index=below_base.index)
    return below_base.mask(binding, below_top).assign(
        finding="2", measured=measured + " (the larger p of two)", units=below_base["units"],
        below_base_ci_high=below_base["ci_high"],
        below_top_p=below_top["p_value"])


def _fine_tune_recovery(full, units):
    """Non-inferiority at every n: the worst layer's test decides (intersection-union)."""
    rows = _effect_rows(units, "fine_tune_recovery")
    if rows.empty:
        return None
    per_layer = _with_bound(_t_tests(_cluster_means(rows, ["n"]), ["dataset", "n"], "greater", null=-MARGIN))
    per_layer = per_layer.reset_index()
    tested = per_layer[per_layer["p_value"].notna()]  # layers run in one cluster only are not part of the claim
    per_layer = pd.concat([tested, per_layer[~per_layer["dataset"].isin(tested["dataset"])]])
    worst = per_layer.loc[per_layer.fillna({"p_value": np.inf}).groupby("dataset")["p_value"].idxmax()]
    worst = worst.set_index("dataset")
    layers = per_layer.groupby("dataset")["n"].size()
    base_error = 1 - full[(full["split_kind"] == "random") & (full["treatment"] == "base")].groupby("dataset")["top1"].mean()
    relative = (MARGIN / base_error).reindex(worst.index)
    measured = ("BnB+ - baseB at n=" + worst["n"].astype(str) + ", the worst of " + layers.astype(str)
                + " layers (margin 1 point = " + relative.map(lambda r: f"{r:.0%}") + " of the base nets' error)")
    # the guard needs the smallest margin over the null of any layer, not the worst p's: removing the bias lowers
    # every layer's bound alike, and the first to cross the null decides the intersection-union test
    margin = tested.assign(margin=tested["ci_low"] - tested["null"]).groupby("dataset")["margin"].min()
    return worst.drop(columns="n").assign(finding="3", measured=measured, min_margin=margin.reindex(worst.index))


def _specificity(full, units):
    rows = _at_deepest_n(_effect_rows(units, "specificity"))
    test = _with_bound(_t_tests(_cluster_means(rows), "dataset", "less"))
    return test.assign(finding="4", measured="AnB - BnB at n=" + rows.groupby("dataset")["n"].max().astype(str))


def _boost(full, units):
    """AnB+ - BnB+ per cluster: at each n both run in it, the cluster's AnB+ - base minus its BnB+ - base (each
    against its own half's base net; the paper ran BnB+ on one half and AnB+ on the other), averaged over n."""
    boost = _cluster_means(_effect_rows(units, "boost"), ["n"])
    recovery = _cluster_means(_effect_rows(units, "fine_tune_recovery"), ["n"])
    beyond = (boost - recovery).dropna()
    if beyond.empty:
        return None
    test = _with_bound(_t_tests(beyond.groupby(level=["dataset", "split", "seed"]).mean(), "dataset", "greater"))
    return test.assign(finding="5", measured="mean over n of AnB+ - BnB+")


def _dissimilar(full, units):
    """One row per data set and dissimilar split (finding "4.2", or "4.2 <split>" when there are several)."""
    random = _effect_rows(units, "transfer_drop")
    dissimilar = _effect_rows(units, "transfer_drop", ("dissimilar",))
    several = dissimilar.groupby("dataset")["group"].transform("nunique") > 1
    dissimilar = dissimilar.assign(finding=np.where(several, "4.2 " + dissimilar["group"], "4.2"))
    results = []
    for (finding, group), rows in dissimilar.groupby(["finding", "group"]):
        common = rows[["dataset", "n"]].drop_duplicates().merge(random[["dataset", "n"]].drop_duplicates())
        deepest = common.groupby("dataset", as_index=False)["n"].max()
        test = _with_bound(_welch(_cluster_means(rows.merge(deepest)), _cluster_means(random.merge(deepest)), "less"))
        test = test.assign(sides=f"the {group} split|the random splits")
        n = deepest.set_index("dataset")["n"].astype(str)
        results.append(test.assign(finding=finding, measured=f"AnB - base, {group} minus random splits, at n=" + n))
    return pd.concat(results) if results else None


def _random_frozen(full, units):
    transfer = _effect_rows(units, "transfer_drop")
    transfer = transfer[transfer["n"] >= 3]
    frozen = _effect_rows(units, "random_frozen_drop")
    frozen = frozen[frozen["n"] >= 3]
    on = ["dataset", "split", "seed", "target", "n"]
    paired = frozen[on + ["diff"]].merge(transfer[on + ["diff"]], on=on, suffixes=("", "_transfer"))
    paired = paired.assign(diff=paired["diff"] - paired["diff_transfer"])
    tests = [_with_bound(_t_tests(_cluster_means(paired), "dataset", "less", null=-FAR_WORSE)).assign(
        finding="4.3", measured="mean over n>=3 of random frozen - AnB, paired")]
    # the whole task's random-frozen nets (the paper's design) against the random splits' transfers
    whole = _effect_rows(units, "random_frozen_drop", ("unsplit",))
    whole = whole[(whole["n"] >= 3) & ~whole["dataset"].isin(paired["dataset"])]
    common = whole[["dataset", "n"]].drop_duplicates().merge(transfer[["dataset", "n"]].drop_duplicates())
    if len(common):
        test = _welch(_cluster_means(whole.merge(common)), _cluster_means(transfer.merge(common)), "less", -FAR_WORSE)
        tests.append(_with_bound(test).assign(finding="4.3", measured="mean over n>=3 of random-frozen drop (whole "
                                              "task) minus AnB drop (random splits)",
                                              sides="the whole task's random-frozen nets|the random splits"))
    return pd.concat(tests)


@functools.cache
def _paper_finding_values() -> tuple:
    found = findings(paper_nets(), power_at={})
    return tuple(found.loc[found["finding"] != "1", ["finding", "value"]].itertuples(index=False, name=None))


def paper_finding_values() -> dict:
    """Each tested finding's value on the paper's own table (paper_nets): the effect at which power is computed."""
    return dict(_paper_finding_values())


def training_bias(full: pd.DataFrame) -> pd.Series:
    """Per data set, how far the random splits' base nets might still have been from done: the mean over them
    of their last epoch's gain in validation top-1 (a loss counts as 0). A finding's value is a mean over
    clusters of differences from these base nets, so this is what their unfinished training can have added
    to it, about; a mean, so it does not grow as clusters are added."""
    bases = full[(full["split_kind"] == "random") & (full["treatment"] == "base")]
    return bases["last_epoch_gain"].clip(lower=0).fillna(0).groupby(bases["dataset"]).mean()


NOT_RUN = {"1": "random-split base nets", "2": "selffer (BnB) nets at a middle layer (3-5) and a deeper one",
           "3": "selffer_ft (BnB+) nets", "4": "selffer and transfer nets",
           "5": "transfer_ft and selffer_ft (AnB+, BnB+) nets",
           "4.2": "transfer nets on a split marked dissimilar: true and on random splits",
           "4.3": "random_frozen nets and transfer nets on random splits at n >= 3"}
FINDINGS = {"1": _base_level, "2": _co_adaptation, "3": _fine_tune_recovery, "4": _specificity,
            "5": _boost, "4.2": _dissimilar, "4.3": _random_frozen}


def findings(nets: pd.DataFrame, units: pd.DataFrame | None = None, power_at: dict | None = None) -> pd.DataFrame:
    """The paper's five findings plus Sections 4.2 and 4.3 per data set, each a test stated in its row
    (`test`) with outcome reproduced, not reproduced, not shown (too little power to see the paper's effect)
    or undetermined (and why: too few clusters, not run, or base nets that had not finished training).
    `power_at`: the effect per finding at which power is computed (default: the paper's own, paper_finding_values)."""
    full = _full_training(nets)
    units = unit_effects(nets) if units is None else units
    datasets = sorted(set(_text(nets["dataset"])) if "dataset" in nets and len(nets) else {""})
    power_at = paper_finding_values() if power_at is None else power_at
    bias = training_bias(full)
    rows = []
    for finding, test in FINDINGS.items():
        result = test(full, units)
        result = result.reset_index() if result is not None and len(result) else pd.DataFrame(columns=["dataset"])
        if len(result):
            result = _decide(result, power_at, bias)
        done = set(result["dataset"])
        missing = [d for d in datasets if d not in done]
        result = pd.concat([result, pd.DataFrame({
            "dataset": missing, "finding": finding, "measured": "not measurable (not run)", "units": 0,
            "outcome": "undetermined", "why": f"not run: needs {NOT_RUN[finding]}"})], ignore_index=True)
        rows.append(result.assign(statement=STATEMENTS[finding], test=TESTS[finding]))
    table = pd.concat(rows, ignore_index=True)
    table = table[table["dataset"].isin(datasets)].assign(units=table["units"].fillna(0).astype(int))
    return table.reindex(columns=FINDING_COLUMNS).reset_index(drop=True)


def p_text(p: float) -> str:
    return f"p = {p_rounded(p)} {'<' if p < ALPHA else '>='} {ALPHA}"


def power(test, effect: float) -> float:
    """The power of a row's one-sided t test (its df and standard error) to reject at ALPHA were the true value
    `effect`."""
    shift = (effect - test.null) if test.alternative == "greater" else (test.null - effect)
    if test.sem == 0:  # no spread at all (a hand-made table): any shift beyond the null is seen
        return float(shift > 0)
    return float(stats.nct.sf(stats.t.ppf(1 - ALPHA, test.df), test.df, shift / test.sem))


def design_power(effect: float, null: float, sd: float, clusters: int, alternative: str) -> float:
    """The power of a one-sample one-sided t test over `clusters` clusters whose values have s.d. `sd`, at a true
    value `effect`: what a design of that many splits (and seeds) can decide (docs/statistics.md)."""
    row = SimpleNamespace(null=null, alternative=alternative, df=clusters - 1, sem=sd / np.sqrt(clusters))
    return power(row, effect)


def clusters_for_power(effect: float, null: float, sd: float, alternative: str, wanted=POWER_WANTED, most=1000):
    """The fewest clusters (2 to `most`) with design_power >= `wanted`; None if even `most` fall short."""
    return next((k for k in range(2, most + 1) if design_power(effect, null, sd, k, alternative) >= wanted), None)


def _decide(result: pd.DataFrame, power_at: dict, bias: pd.Series) -> pd.DataFrame:
    """Outcome and why of each row: undetermined without a spread; reproduced where p < ALPHA; otherwise not
    shown where the test had less than POWER_WANTED power at the paper's effect, else not reproduced. Then the
    guard for short training (BIASED_BY_SHORT_TRAINING) may make a row undetermined."""
    outcomes, whys = [], []
    for row in result.itertuples():
        if row.finding == "1":
            outcome, why = "reported", "the level depends on the data set: reported, not judged"
        elif np.isnan(row.p_value):
            outcome, why = "undetermined", "too few units: " + _too_few(row)
        elif row.p_value < ALPHA:
            outcome, why = "reproduced", p_text(row.p_value)
        else:
            effect = power_at.get(row.finding.split()[0], np.nan)
            chance = power(row, effect) if np.isfinite(effect) else np.nan
            if chance < POWER_WANTED:
                outcome = "not shown"
                why = f"{p_text(row.p_value)}; power {chance:.2f} at the paper's effect ({effect:+.4f}): " \
                      "too few units to see it; add splits or seeds"
            else:
                outcome = "not reproduced"
                why = p_text(row.p_value) + (f"; power {chance:.2f} at the paper's effect ({effect:+.4f})"
                                             if np.isfinite(chance) else "")
        outcome, why = _guard(row, outcome, why, bias.get(row.dataset, 0.0))
        outcomes.append(outcome)
        whys.append(why)
    return result.assign(outcome=outcomes, why=whys)


def _too_few(row) -> str:
    """Why a row's test has no spread: one cluster, or one on a side of a two-sample test."""
    if isinstance(getattr(row, "sides", None), str):
        first, second = row.sides.split("|")
        return (f"{row.n_a:.0f} cluster(s) of {first} and {row.n_b:.0f} of {second}; Welch's test needs two or more "
                "on each side: add seeds (or splits)")
    return f"{row.units} cluster (split and seed) gives no spread; add splits or seeds"


def _guard(row, outcome: str, why: str, bias: float) -> tuple[str, str]:
    """Undetermined where base nets still improving could have made this outcome: where removing their
    possible bias (training_bias) from the value moves the test's bound across its null."""
    side = BIASED_BY_SHORT_TRAINING.get(row.finding)
    if side is None or not bias or outcome not in ("reproduced", "not reproduced", "not shown"):
        return outcome, why
    if side == "greater":  # 3: the bias helps BnB+ - baseB pass; without it would every layer still pass?
        flips = outcome == "reproduced" and row.min_margin - bias <= 0
    else:  # 2: the bias hides a dip below the base: without it, would the below-base test pass too?
        flips = (outcome != "reproduced" and row.below_base_ci_high >= 0 > row.below_base_ci_high - bias
                 and row.below_top_p < ALPHA)
    if not flips:
        return outcome, why
    return "undetermined", (f"base nets not converged: their last epochs still gained {bias:+.4f} on average, "
                            f"enough to have made this outcome; train longer (see README); the test alone says "
                            f"{outcome} ({why})")


# ---- the paper's own numbers ---------------------------------------------------------------------

def paper_reference() -> pd.DataFrame:
    """The authors' per-network results, as shipped in the package (see paper/README.md)."""
    source = resources.files(__package__) / "paper" / "yosinski2014_results.csv"
    with resources.as_file(source) as path:
        return pd.read_csv(path, dtype={"split": str})


def paper_nets() -> pd.DataFrame:
    """The paper's nets in nets.csv format, so every table and figure can be drawn for them too.
    natman -> split_kind "dissimilar" with targets named natural / man-made (the log letters are
    swapped vs the paper: A = natural); 1000-class nets -> split_kind "unsplit" (split "whole"), where
    netbase_1000class is the base of random_frozen and the reduced nets are bases with
    images_per_class set. Random split s is named random<s>, as the workflow names it."""
    ref = paper_reference().dropna(subset=["top1"])
    natman = ref["split"] == "natman"
    semantic = {"A": "natural", "B": "man-made"}
    split = np.where(natman, "natman", np.where(ref["split"].notna(), "random" + ref["split"].fillna(""), "whole"))
    return pd.DataFrame({
        "dataset": "imagenet",
        "split": split,
        "split_kind": np.select([natman, ref["split"].notna()], ["dissimilar", "random"], "unsplit"),
        "seed": 0,
        "net": ref["network"],
        "treatment": ref["experiment"].replace({"natman_base": "base", "natman_transfer": "transfer",
                                                "netbase_1000class": "base", "reduced": "base"}),
        "source": ref["source"].where(~natman, ref["source"].map(semantic)).fillna(""),
        "target": ref["target_semantic"].where(natman, ref["target"]).fillna("A"),
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
    """Our per-layer means beside the paper's: ours, paper, difference = ours - paper, on the random
    splits and the whole task (explicit splits are other classes than the paper's). The paper ran
    random_frozen on the whole 1000-class task; where ours ran on the random halves, they are compared
    there."""
    per_layer = per_layer[per_layer["split_kind"].isin(["random", "unsplit"])]
    frozen_kinds = set(per_layer.loc[per_layer["treatment"] == "random_frozen", "split_kind"])
    if frozen_kinds == {"random"}:
        moved = paper["treatment"] == "random_frozen"
        paper = paper.assign(split_kind=paper["split_kind"].mask(moved, "random"), split=paper["split"].mask(moved, "random"))
    keys = ["split_kind", "treatment", "n"]
    merged = pd.merge(per_layer[keys + ["mean", "count"]], paper[paper["target"] == ""][keys + ["mean", "count"]],
                      on=keys, how="outer", suffixes=("_ours", "_paper"))
    merged = merged.rename(columns={"mean_ours": "ours", "mean_paper": "paper",
                                    "count_ours": "ours_count", "count_paper": "paper_count"})
    merged["difference"] = merged["ours"] - merged["paper"]
    return merged[keys + ["ours", "paper", "difference", "ours_count", "paper_count"]]
