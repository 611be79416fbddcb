"""The analysis tables: per-layer means, the paper's effects per unit of replication, the paper's findings
as stated tests, and the paper's own numbers.

A *unit* is one independent repetition of an effect: one split, seed and target half. An effect is paired
within its unit (a net minus the base net of its own split, seed and half, or AnB minus BnB of the same
unit and n) and then summarised over units: mean, standard error and a 95% t interval (df = units - 1).
One unit has no spread: its standard error and interval are empty (NaN), never 0.

A finding shows the interval its test used: the one-sided confidence bound on the side the test looks at
([ci_low, ci_high] with the other end infinite, at `confidence`), so it is reproduced (p < ALPHA) exactly
where that interval excludes the test's null (`null`). Finding 1, which is reported, not tested, shows a
two-sided 95% interval.

Groups: all random splits of a data set are pooled (random halves are exchangeable draws, so each random
split adds units); every other split is a group of its own (two explicit splits are never pooled), named
by its split. split_kind is random, explicit, dissimilar (an explicit split the config marks
`dissimilar: true`) or unsplit (the whole task).

Every function works per data set (the `dataset` column): several data sets, or many simulated tables,
are analysed in one call. Functions take and return tidy pandas DataFrames and round nothing;
formatting is the caller's. Only the `paper_*` loaders read files (the package's paper/ data)."""

from importlib import resources

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05  # level of every finding's test
MARGIN = 0.01  # finding 3: BnB+ recovers if it is not more than one point of top-1 below baseB
STILL_IMPROVING = 0.005  # a base net whose last epoch raised its validation top-1 by more was not done

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
OUTCOMES = ("reproduced", "not reproduced", "undetermined")
SEPARATE_HALVES = ("explicit", "dissimilar")  # split kinds whose target halves differ in kind
UNIT = ["dataset", "split_kind", "group", "split", "seed", "target"]  # group: the split, or "random"

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


def _summary(table, keys, value, count="units"):
    """Mean, standard error and 95% t interval of `value` per `keys`; empty spread for a single value."""
    out = table.groupby(keys, sort=True)[value].agg(**{count: "size", "mean": "mean", "std": "std"}).reset_index()
    out["sem"] = out["std"] / np.sqrt(out[count])
    half_width = stats.t.ppf(0.975, out[count] - 1) * out["sem"]  # NaN for one value (df = 0)
    out["ci95_low"], out["ci95_high"] = out["mean"] - half_width, out["mean"] + half_width
    return out


def _pooled_halves(rows: pd.DataFrame) -> pd.DataFrame:
    """Target "" where both directions are pooled: random halves are symmetric (as the paper pools
    them); the halves of an explicit split are not (natural vs man-made) and keep their target."""
    return rows.assign(target=rows["target"].where(rows["split_kind"].isin(SEPARATE_HALVES), ""))


def per_layer_table(nets: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of top-1 per data set, split group, target, treatment and n (both directions
    pooled on random splits, see _pooled_halves)."""
    full = _pooled_halves(_full_training(nets))
    keys = ["dataset", "split_kind", "group", "target", "treatment", "n"]
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
    """The unit values behind each row of effects.csv (rows by EFFECT_KEYS): every unit with target ""
    (the directions pooled), and the units of explicit and dissimilar splits again under their target
    half (one row per direction of transfer)."""
    per_half = units[units["split_kind"].isin(SEPARATE_HALVES)]
    return pd.concat([units.assign(target=""), per_half], ignore_index=True)


def effects_table(units: pd.DataFrame) -> pd.DataFrame:
    """The effects per data set, group, target and n over their units (see effect_samples)."""
    table = _summary(effect_samples(units), EFFECT_KEYS, "diff")
    return table.rename(columns={"group": "split"})[EFFECT_COLUMNS]


def reduced_data_table(nets: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of top-1 of the base nets trained on fewer images per class, per data set, split
    group, target (pooled as in per_layer_table) and images per class."""
    reduced = _pooled_halves(_with_units(nets[nets["images_per_class"].notna() & nets["top1"].notna()]))
    keys = ["dataset", "split_kind", "group", "target", "images_per_class"]
    table = _summary(reduced.astype({"images_per_class": int}), keys, "top1", count="count")
    return table.rename(columns={"group": "split"})[REDUCED_COLUMNS]


CURVE_COLUMNS = ["dataset", "split_kind", "split", "target", "treatment", "n", "epoch", "units", "mean", "std", "sem",
                 "ci95_low", "ci95_high"]


def training_curves(epochs: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over units of the validation top-1 after each epoch, per data set, split group,
    target (pooled as in per_layer_table), treatment and n, from the epochs table of the transfer grid's
    nets (reduced-data nets left out)."""
    full = _pooled_halves(_full_training(epochs.assign(top1=epochs["val_top1"])))
    keys = ["dataset", "split_kind", "group", "target", "treatment", "n", "epoch"]
    return _summary(full, keys, "val_top1").rename(columns={"group": "split"})[CURVE_COLUMNS]


# the tables the summarize command writes, in the order it writes them; figures and comparisons read
# these written tables, never a recomputation from nets.csv
SUMMARY_TABLES = ("per_layer", "effects", "unit_effects", "reduced_data", "findings")


def summarize(nets: pd.DataFrame) -> dict:
    """What the summarize command writes: table name (SUMMARY_TABLES) -> table, from a nets.csv table."""
    units = unit_effects(nets)
    return {"per_layer": per_layer_table(nets), "effects": effects_table(units),
            "unit_effects": units, "reduced_data": reduced_data_table(nets),
            "findings": findings(nets, units)}


# ---- the findings: each a stated test at ALPHA over units ------------------------------------------

STATEMENTS = {
    "1": "1. baseB reaches about 62.5% top-1 on its ImageNet half; the level depends on the data set.",
    "2": "2. Fragile co-adaptation: BnB falls below baseB at middle layers.",
    "3": "3. Fine-tuning recovers the co-adapted interactions: BnB+ is not below baseB.",
    "4": "4. Representation specificity: AnB falls below BnB at the top layers.",
    "5": "5. Transfer + fine-tuning improves generalisation: AnB+ is above baseB.",
    "4.2": "4.2. Transfer hurts more between dissimilar halves than between random ones.",
    "4.3": "4.3. Random frozen layers hurt far more than transferred ones.",
}
TESTS = {
    "1": "None: reported, not judged (mean top-1 of the random splits' base nets, two-sided 95% t interval).",
    "2": (f"One-sided t test per layer n of BnB - baseB < 0 over the random splits' units (paired within "
          f"each split, seed and half), Holm-corrected over the layers run; reproduced if the smallest "
          f"corrected p < {ALPHA}; its upper bound is at confidence 1 - {ALPHA} / layers, as that p."),
    "3": (f"Non-inferiority t test (the lower half of TOST) of the mean over n of BnB+ - baseB per unit: "
          f"reproduced if it is above -{MARGIN} (margin: {MARGIN * 100:g} point of top-1) with p < {ALPHA}."),
    "4": f"One-sided t test of AnB - BnB < 0 at the deepest n run (7 in the paper), paired within units; p < {ALPHA}.",
    "5": f"One-sided t test of the mean over n of AnB+ - baseB > 0 per unit; p < {ALPHA}.",
    "4.2": (f"One-sided two-sample t test (pooled variance) of AnB - base at the deepest n both run: the "
            f"units of the split marked dissimilar below those of the random splits; p < {ALPHA}."),
    "4.3": (f"One-sided t test of the mean over n of (random frozen - base) - (AnB - base) < 0, paired "
            f"within the random splits' units; a two-sample pooled t test where the random-frozen nets ran "
            f"on the whole task; p < {ALPHA}."),
}
# findings whose nets start from trained layers and are compared with the base nets: confounded by
# extra training when the base nets had not converged
CONFOUNDED_BY_SHORT_TRAINING = ("2", "3", "5")


def _t_tests(values: pd.Series, by, alternative, null=0.0) -> pd.DataFrame:
    """One-sample t test of the unit values of each `by` group (index levels) against `null`, with the
    group's mean. alternative: "less" or "greater". p is NaN with one unit."""
    out = values.groupby(level=by).agg(units="size", value="mean", std="std").assign(null=null)
    sem = out["std"] / np.sqrt(out["units"])
    return _with_p(out, (out["value"] - null) / sem, sem, out["units"] - 1, alternative)


def _with_p(out, t, sem, df, alternative):
    """The test's p value, with what its confidence bound needs (see _with_bound)."""
    df = df.where(df >= 1)
    p_value = stats.t.cdf(t, df) if alternative == "less" else stats.t.sf(t, df)
    return out.assign(p_value=p_value, sem=sem, df=df, alternative=alternative)


def _with_bound(test, confidence):
    """The confidence bound that matches the test: one-sided on the side it looks at (an upper bound for
    "less", a lower one for "greater"), so the test's p (before any correction) is below 1 - confidence
    exactly where [ci_low, ci_high] excludes the null. Empty without a spread."""
    reach = stats.t.ppf(confidence, test["df"]) * test["sem"]
    less = test["alternative"] == "less"
    return test.assign(ci_low=(test["value"] - reach).mask(less, -np.inf).where(reach.notna()),
                       ci_high=(test["value"] + reach).mask(~less, np.inf).where(reach.notna()),
                       confidence=confidence)


def _two_sample(first: pd.Series, second: pd.Series, alternative) -> pd.DataFrame:
    """Pooled-variance two-sample t test per data set of mean(first) - mean(second); a side with one
    unit contributes no variance (its df is 0), so one unit against several is still a test."""
    a = first.groupby(level="dataset").agg(n_a="size", m_a="mean", v_a="var")
    b = second.groupby(level="dataset").agg(n_b="size", m_b="mean", v_b="var")
    out = a.join(b, how="inner")
    df = out["n_a"] + out["n_b"] - 2
    pooled = ((out["n_a"] - 1) * out["v_a"].fillna(0) + (out["n_b"] - 1) * out["v_b"].fillna(0)) / df
    sem = np.sqrt(pooled * (1 / out["n_a"] + 1 / out["n_b"]))
    # the variance is estimated only if some side has two units
    sem = sem.where((out["n_a"] >= 2) | (out["n_b"] >= 2))
    out = out.assign(units=out["n_a"] + out["n_b"], value=out["m_a"] - out["m_b"], null=0.0)
    return _with_p(out, out["value"] / sem, sem, df.where(sem.notna(), 0), alternative)


def _unit_means(rows: pd.DataFrame) -> pd.Series:
    """Mean over n of each unit's differences, indexed by dataset and unit."""
    return rows.groupby(["dataset", "split", "seed", "target"])["diff"].mean()


def _effect_rows(units, effect, kinds=("random",)):
    return units[(units["effect"] == effect) & units["split_kind"].isin(kinds)]


def _at_deepest_n(rows):
    return rows[rows["n"] == rows.groupby("dataset")["n"].transform("max")]


def _decide(test: pd.DataFrame, finding: str, measured, confidence=1 - ALPHA) -> pd.DataFrame:
    """Outcome, reason and confidence bound of each data set's test; `measured` describes the value (a
    string or a Series by data set). Without a p value (too few units) the outcome is undetermined."""
    def outcome(p):
        return "undetermined" if np.isnan(p) else "reproduced" if p < ALPHA else "not reproduced"

    def why(p, units):
        if np.isnan(p):
            return f"{units} unit{'s' if units != 1 else ''}: too few for a spread; add seeds or splits"
        return f"p = {p:.2g} {'<' if p < ALPHA else '>='} {ALPHA}"

    return _with_bound(test, confidence).assign(
        finding=finding, measured=measured, outcome=[outcome(p) for p in test["p_value"]],
        why=[why(p, k) for p, k in zip(test["p_value"], test["units"])])


def _base_level(full, units):
    bases = full[(full["split_kind"] == "random") & (full["treatment"] == "base")]
    test = _t_tests(bases.set_index(["dataset", "split", "seed", "target"])["top1"], "dataset", "greater")
    half_width = stats.t.ppf(1 - ALPHA / 2, test["df"]) * test["sem"]  # described, not tested: two-sided
    return test.assign(finding="1", measured="mean top-1 of the base nets", p_value=np.nan, null=np.nan,
                       ci_low=test["value"] - half_width, ci_high=test["value"] + half_width, confidence=1 - ALPHA,
                       outcome="reported", why="the level depends on the data set: reported, not judged")


def _co_adaptation(full, units):
    """The layer with the smallest Holm-corrected p (m = the layers with two units or more); where no
    layer has two units, the lowest layer, untestable."""
    rows = _effect_rows(units, "co_adaptation")
    tests = _t_tests(rows.set_index(["dataset", "n", "split", "seed", "target"])["diff"],
                     ["dataset", "n"], "less").reset_index()
    testable = tests[tests["p_value"].notna()]
    testable = testable.assign(layers=testable.groupby("dataset")["n"].transform("size"))
    best = testable.loc[testable.groupby("dataset")["p_value"].idxmin()]  # before the correction caps p at 1
    best = best.assign(p_value=np.minimum(1.0, best["p_value"] * best["layers"]))
    untestable = tests[~tests["dataset"].isin(best["dataset"])]
    lowest = untestable.loc[untestable.groupby("dataset")["value"].idxmin()].assign(layers=0)
    chosen = pd.concat([best, lowest]).set_index("dataset")
    how = np.where(chosen["layers"] > 0, " (smallest p of " + chosen["layers"].astype(str)
                   + " layers; p Holm-corrected)", " (lowest)")
    measured = "BnB - baseB at n=" + chosen["n"].astype(str) + how
    # the corrected p (p x layers) is below ALPHA exactly where the bound at 1 - ALPHA / layers excludes 0
    confidence = 1 - ALPHA / chosen["layers"].clip(lower=1)
    return _decide(chosen.drop(columns=["n", "layers"]), "2", measured, confidence)


def _fine_tune_recovery(full, units):
    test = _t_tests(_unit_means(_effect_rows(units, "fine_tune_recovery")), "dataset", "greater", null=-MARGIN)
    return _decide(test, "3", "mean over n of BnB+ - baseB")


def _specificity(full, units):
    rows = _at_deepest_n(_effect_rows(units, "specificity"))
    test = _t_tests(rows.set_index(["dataset", "split", "seed", "target"])["diff"], "dataset", "less")
    deepest = rows.groupby("dataset")["n"].max()
    return _decide(test, "4", "AnB - BnB at n=" + deepest.astype(str))


def _boost(full, units):
    test = _t_tests(_unit_means(_effect_rows(units, "boost")), "dataset", "greater")
    return _decide(test, "5", "mean over n of AnB+ - baseB")


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
        ours, theirs = rows.merge(deepest), random.merge(deepest)
        test = _two_sample(ours.set_index(["dataset", "split", "seed", "target"])["diff"],
                           theirs.set_index(["dataset", "split", "seed", "target"])["diff"], "less")
        n = deepest.set_index("dataset")["n"].astype(str)
        results.append(_decide(test, finding, f"AnB - base, {group} minus random splits, at n=" + n))
    return pd.concat(results) if results else None


def _random_frozen(full, units):
    transfer = _effect_rows(units, "transfer_drop")
    frozen = _effect_rows(units, "random_frozen_drop")
    on = ["dataset", "split", "seed", "target", "n"]
    paired = frozen[on + ["diff"]].merge(transfer[on + ["diff"]], on=on, suffixes=("", "_transfer"))
    paired = paired.assign(diff=paired["diff"] - paired["diff_transfer"])
    tests = [_decide(_t_tests(_unit_means(paired), "dataset", "less"), "4.3",
                     "mean over n of random-frozen drop minus AnB drop, paired")]
    # the whole task's random-frozen nets (the paper's design) against the random splits' transfers
    whole = _effect_rows(units, "random_frozen_drop", ("unsplit",))
    whole = whole[~whole["dataset"].isin(paired["dataset"])]
    common = whole[["dataset", "n"]].drop_duplicates().merge(transfer[["dataset", "n"]].drop_duplicates())
    if len(common):
        test = _two_sample(_unit_means(whole.merge(common)), _unit_means(transfer.merge(common)), "less")
        tests.append(_decide(test, "4.3", "mean over n of random-frozen drop (whole task) minus AnB drop "
                             "(random splits)"))
    return pd.concat(tests)


def _still_improving(full):
    """Largest last-epoch gain of each data set's random-split base nets, where above STILL_IMPROVING."""
    bases = full[(full["split_kind"] == "random") & (full["treatment"] == "base")]
    gain = bases.groupby("dataset")["last_epoch_gain"].max()
    return gain[gain > STILL_IMPROVING]


NOT_RUN = {"1": "random-split base nets", "2": "selffer (BnB) nets", "3": "selffer_ft (BnB+) nets",
           "4": "selffer and transfer nets", "5": "transfer_ft (AnB+) nets",
           "4.2": "transfer nets on a split marked dissimilar: true and on random splits",
           "4.3": "random_frozen nets and transfer nets on random splits"}
FINDINGS = {"1": _base_level, "2": _co_adaptation, "3": _fine_tune_recovery, "4": _specificity,
            "5": _boost, "4.2": _dissimilar, "4.3": _random_frozen}


def findings(nets: pd.DataFrame, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's five findings plus Sections 4.2 and 4.3 per data set, each a test stated in its row
    (`test`) with outcome reproduced, not reproduced or undetermined (and why). Findings 2, 3 and 5 are
    at most undetermined where the base nets were still improving at their last epoch."""
    full = _full_training(nets)
    units = unit_effects(nets) if units is None else units
    datasets = sorted(set(_text(nets["dataset"])) if "dataset" in nets and len(nets) else {""})
    improving = _still_improving(full)
    rows = []
    for finding, test in FINDINGS.items():
        result = test(full, units)
        result = result.reset_index() if result is not None and len(result) else pd.DataFrame(columns=["dataset"])
        done = set(result["dataset"])
        missing = [d for d in datasets if d not in done]
        result = pd.concat([result, pd.DataFrame({
            "dataset": missing, "finding": finding, "measured": "not measurable (not run)", "units": 0,
            "outcome": "undetermined", "why": f"not run: needs {NOT_RUN[finding]}"})], ignore_index=True)
        if finding in CONFOUNDED_BY_SHORT_TRAINING:
            result = _guard_short_training(result, improving)
        rows.append(result.assign(statement=STATEMENTS[finding], test=TESTS[finding]))
    table = pd.concat(rows, ignore_index=True)
    table = table[table["dataset"].isin(datasets)].assign(units=table["units"].fillna(0).astype(int))
    return table.reindex(columns=FINDING_COLUMNS).reset_index(drop=True)


def _guard_short_training(result, improving):
    flagged = result["dataset"].isin(improving.index) & (result["units"] > 0)
    gain = result["dataset"].map(improving).map(lambda g: f"{g:+.4f}")
    said = np.where(result["outcome"] == "undetermined", "; also " + result["why"],
                    "; the test alone says " + result["outcome"] + " (" + result["why"] + ")")
    why = ("base nets still improving at their last epoch (validation top-1 " + gain + f" > {STILL_IMPROVING}): "
           "nets started from their layers got more training; train longer (see README)" + said)
    return result.assign(outcome=result["outcome"].where(~flagged, "undetermined"),
                         why=result["why"].where(~flagged, why))


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
