"""How many of a source's units to freeze: the run's answer to "which layers of A can I keep frozen for B?".

From the transfer nets of one run, AnB (the first n units of A copied and frozen) and AnB+ (copied and fine-tuned),
per data set and split group (the random splits pooled; an explicit split on its own, per target half):
- the best fine-tuned result: the n whose mean AnB+ over clusters is highest;
- the deepest n such that freezing units 1..n costs at most MARGIN of top-1 against that best AnB+.

The test, over clusters (a split and seed, its target halves averaged, as the findings'): per n, each cluster's
cost = its AnB+ at the best n minus its AnB at n, and a one-sided t test of mean cost < MARGIN. The layers are
tested in a fixed order, shallowest first, each at ALPHA, and the answer is the last n before the first that is
not shown (a layer paired in one cluster only is not tested): a fixed-sequence procedure, which against a fixed
reference keeps the probability that any claimed n in fact costs MARGIN or more at most ALPHA with no correction.
The best n is picked from the same data, so its AnB+ is biased upwards and every cost looks larger: where one n
is clearly best the level is nominal, where several tie the claim errs on the side of freezing less (both
calibrated on noise in tests/test_freezing.py). The bound reported is the one-sided 95% upper bound of the cost
at the answer's n. The answer is about AnB: units 1..n of A frozen and the units above trained anew on B."""

import numpy as np
import pandas as pd
from scipy import stats

from .tables import ALPHA

MARGIN = 0.01  # one point of top-1: the most that freezing may cost against the best fine-tuned transfer
KEYS = ["dataset", "split_kind", "group", "target"]  # one answer per data set, split group and target
COLUMNS = [*KEYS, "units", "best_n", "best_top1", "margin", "deepest_n", "cost", "cost_bound", "p_value",
           "outcome", "why", "answer"]
OUTCOMES = ("shown", "not shown", "undetermined")


def freezing_table(units: pd.DataFrame) -> pd.DataFrame:
    """One row per data set, split group and target that ran both AnB and AnB+ (COLUMNS), from the cluster
    values behind per_layer.csv (analysis.per_layer_units)."""
    units = units[units["treatment"].isin(["transfer", "transfer_ft"])]
    both = units.groupby(KEYS)["treatment"].transform("nunique") == 2
    best, tests = layer_tests(units[both])
    clusters = units[both].groupby(KEYS)[["split", "seed"]].apply(lambda g: len(g.drop_duplicates()))
    rows = [_answer(key, clusters[key], best.loc[key], tests.xs(key, level=KEYS) if key in tests.index.droplevel("n")
                    else tests.iloc[:0]) for key in best.index]
    return pd.DataFrame(rows, columns=COLUMNS)


def layer_tests(units: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per KEYS, the best n and its mean AnB+; per KEYS and n, the test of the cost of freezing units 1..n
    against AnB+ at the best n: units, cost, sem, df, p_value, bound, passed), from cluster values (KEYS,
    treatment, n, split, seed, top1). The best n is among those AnB+ ran in two clusters or more, if any."""
    fine_tuned = units[units["treatment"] == "transfer_ft"]
    per_n = fine_tuned.groupby([*KEYS, "n"])["top1"].agg(["mean", "size"]).reset_index()
    per_n["eligible"] = (per_n["size"] >= 2) | ~(per_n.groupby(KEYS)["size"].transform("max") >= 2)
    eligible = per_n[per_n["eligible"]]
    best = eligible.loc[eligible.groupby(KEYS)["mean"].idxmax(), [*KEYS, "n", "mean"]]
    best = best.rename(columns={"n": "best_n", "mean": "best_top1"})
    reference = fine_tuned.merge(best, left_on=[*KEYS, "n"], right_on=[*KEYS, "best_n"])
    frozen = units[units["treatment"] == "transfer"]
    paired = frozen.merge(reference[[*KEYS, "split", "seed", "top1"]], on=[*KEYS, "split", "seed"],
                          suffixes=("", "_best"))  # within each cluster
    cost = (paired["top1_best"] - paired["top1"]).rename("cost")
    tests = cost.groupby([paired[k] for k in [*KEYS, "n"]]).agg(units="size", cost="mean", std="std").sort_index()
    tests["sem"] = tests["std"] / np.sqrt(tests["units"])
    tests["df"] = (tests["units"] - 1).where(tests["units"] >= 2)
    tests["p_value"] = stats.t.cdf((tests["cost"] - MARGIN) / tests["sem"], tests["df"])
    tests["bound"] = tests["cost"] + stats.t.ppf(1 - ALPHA, tests["df"]) * tests["sem"]
    # the fixed sequence: shallowest first, each at ALPHA, up to the first n not shown
    # a layer paired in one cluster only has no test: it neither passes nor ends the sequence (finding 3 alike)
    tested = tests["p_value"].notna()
    going = ((tests["p_value"] < ALPHA) | ~tested).astype(int).groupby(level=KEYS).cumprod().astype(bool)
    tests["passed"] = going & tested
    return best.set_index(KEYS), tests


def _answer(key, clusters: int, best: pd.Series, tests: pd.DataFrame) -> dict:
    best_n = int(best["best_n"])
    row = dict(zip(KEYS, key), units=clusters, best_n=best_n, best_top1=best["best_top1"], margin=MARGIN)
    tested = tests[tests["p_value"].notna()]
    untested = _untested(tests)
    if tested.empty:
        return {**row, "outcome": "undetermined", "why": f"too few units: AnB+ at n = {best_n} and AnB ran together "
                "in fewer than two clusters (add seeds or splits)", "answer": "undetermined: too few clusters to say"}
    passed = tested["passed"]
    if not passed.any():
        first = tested.iloc[0]
        return {**row, "units": int(first["units"]), "cost": first["cost"], "cost_bound": first["bound"],
                "p_value": first["p_value"], "outcome": "not shown",
                "why": f"at n = {tested.index[0]}: p = {first['p_value']:.2g} >= {ALPHA}{untested}",
                "answer": f"not shown that even unit {tested.index[0]} can be frozen within {MARGIN * 100:g} point "
                          f"of the best AnB+ (n = {best_n}): cost {first['cost'] * 100:+.1f} points, 95% upper bound "
                          f"{first['bound'] * 100:+.1f}"}
    deepest = int(passed[passed].index.max())
    at = tested.loc[deepest]
    return {**row, "units": int(at["units"]), "deepest_n": deepest, "cost": at["cost"], "cost_bound": at["bound"],
            "p_value": at["p_value"], "outcome": "shown",
            "why": f"every n tested up to {deepest}: p < {ALPHA}" + _stopped_at(tested, passed) + untested,
            "answer": f"freezing {_units(deepest)} (the units above trained anew on B, as AnB) costs at most "
                      f"{at['bound'] * 100:.1f} points of top-1 (95% upper bound; mean {at['cost'] * 100:+.1f}) "
                      f"against the best fine-tuned AnB+ (n = {best_n})"}


def _stopped_at(tested, passed) -> str:
    failed = tested[~passed]
    if failed.empty:
        return " (every n run)"
    return f"; not shown at n = {failed.index[0]} (p = {failed['p_value'].iloc[0]:.2g})"


def _untested(tests) -> str:
    layers = [str(n) for n in tests.index[tests["p_value"].isna()]]
    return f"; n = {', '.join(layers)} paired in one cluster only: not tested" if layers else ""


def _units(deepest: int) -> str:
    return "unit 1" if deepest == 1 else f"units 1-{deepest}"
