"""Tests of the analysis tables (transferability.analysis): units, intervals, the findings' tests, their
calibration on pure noise and their power on the paper's own table, all through analysis.summarize (what
the summarize command runs)."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from transferability import analysis, cli, outputs, summary, tables


def net(treatment, n, top1, split_kind="random", target="B", images_per_class=np.nan, top5=np.nan,
        split="random0", seed=0, **extra):
    return dict(dataset="data", split=split, split_kind=split_kind, seed=seed, treatment=treatment, n=n,
                target=target, top1=top1, top5=top5, images_per_class=images_per_class, **extra)


def row(table, **keys):
    mask = np.logical_and.reduce([table[k] == v for k, v in keys.items()])
    assert mask.sum() == 1, f"expected one row for {keys}, got {mask.sum()}"
    return table[mask].iloc[0]


def by_finding(found):
    return found.set_index("finding")


@pytest.fixture
def hand_nets():
    return pd.DataFrame([
        net("base", 0, 0.6, target="A", top5=0.9), net("base", 0, 0.8, top5=0.7, split="random1"),
        net("selffer", 1, 0.5, target="A"), net("selffer", 1, 0.6, split="random1"),
        net("transfer", 1, 0.4, split="random1"),
        net("base", 0, 0.1, images_per_class=10),  # reduced data: not a base of the transfer grid
        net("transfer", 2, np.nan),  # a net without a result
    ])


def test_per_layer_means_and_spread(hand_nets):
    table = analysis.per_layer_table(hand_nets)
    assert len(table) == 3
    base = row(table, treatment="base")
    assert (base["n"], base["count"], base["target"], base["split"]) == (0, 2, "", "random")
    assert base["mean"] == pytest.approx(0.7)
    assert base["std"] == pytest.approx(math.sqrt(0.02))  # ddof=1
    assert base["sem"] == pytest.approx(0.1)
    assert base["ci95_high"] - base["mean"] == pytest.approx(stats.t.ppf(0.975, 1) * 0.1)
    assert base["top5_mean"] == pytest.approx(0.8)
    single = row(table, treatment="transfer")
    assert single["count"] == 1
    assert single[["std", "sem", "ci95_low", "ci95_high"]].isna().all(), "one net has no spread, not 0"


def test_effects_are_paired_within_units_averaged_within_clusters_with_a_t_interval():
    """Three target halves of two splits whose levels differ: each difference is paired within its half, the
    two halves of random0 are averaged (they share a partition: one cluster), and the spread is that of the
    two clusters' values, the interval t with clusters - 1 degrees of freedom."""
    rows = []
    for (split, target, level), d in zip((("random0", "A", 0.9), ("random0", "B", 0.7), ("random1", "B", 0.8)),
                                         (-0.01, -0.02, -0.03)):
        rows += [net("base", 0, level, split=split, target=target),
                 net("selffer", 1, level + d, split=split, target=target),
                 net("transfer", 1, level + 2 * d, split=split, target=target)]
    units = analysis.unit_effects(pd.DataFrame(rows))
    effects = analysis.effects_table(units)
    co = row(effects, effect="co_adaptation", n=1)
    assert (co["units"], co["split"], co["target"]) == (2, "random", "")
    clusters = np.array([(-0.01 - 0.02) / 2, -0.03])
    assert co["mean"] == pytest.approx(clusters.mean())
    assert co["sem"] == pytest.approx(clusters.std(ddof=1) / math.sqrt(2))
    assert co["ci95_low"] == pytest.approx(clusters.mean() - stats.t.ppf(0.975, 1) * co["sem"])
    assert row(effects, effect="specificity", n=1)["mean"] == pytest.approx(clusters.mean())
    assert not effects["effect"].isin(["boost", "fine_tune_recovery", "random_frozen_drop"]).any()


def test_one_unit_has_an_empty_spread_never_zero():
    nets = pd.DataFrame([net("base", 0, 0.7), net("selffer", 1, 0.65)])
    effect = row(analysis.effects_table(analysis.unit_effects(nets)), effect="co_adaptation")
    assert effect["units"] == 1 and effect["mean"] == pytest.approx(-0.05)
    assert effect[["sem", "ci95_low", "ci95_high"]].isna().all()


def test_base_of_an_untargeted_half_is_no_reference():
    nets = pd.DataFrame([net("base", 0, 0.9, target="A"), net("base", 0, 0.6), net("selffer", 1, 0.5)])
    base = row(analysis.per_layer_table(nets), treatment="base")
    assert (base["count"], base["mean"]) == (1, pytest.approx(0.6))
    co = row(analysis.effects_table(analysis.unit_effects(nets)), effect="co_adaptation", n=1)
    assert co["mean"] == pytest.approx(0.5 - 0.6)


def test_explicit_splits_keep_directions_apart_and_are_never_pooled():
    nets = pd.DataFrame([net(t, n, top1, "explicit", half, split=split)
                         for split, drop in (("first", 0.1), ("second", 0.3))
                         for half, level in (("A", 0.6), ("B", 0.8))
                         for t, n, top1 in (("base", 0, level), ("transfer", 1, level - drop))])
    per_layer = analysis.per_layer_table(nets)
    assert set(zip(per_layer["split"], per_layer["target"])) == {(s, h) for s in ("first", "second") for h in "AB"}
    effects = analysis.effects_table(analysis.unit_effects(nets))
    for split, drop in (("first", 0.1), ("second", 0.3)):
        pooled = row(effects, split=split, effect="transfer_drop", target="", n=1)  # its halves: one cluster
        assert (pooled["units"], pooled["mean"]) == (1, pytest.approx(-drop))
        assert row(effects, split=split, effect="transfer_drop", target="B", n=1)["units"] == 1


def test_missing_treatments_do_not_crash():
    nets = pd.DataFrame([net("base", 0, 0.7), net("selffer", 3, 0.65)])
    summary = analysis.summarize(nets)
    effects, found = summary["effects"], summary["findings"]
    assert list(effects["effect"]) == ["co_adaptation"]
    found = by_finding(found)
    assert set(found["outcome"]) <= {"reported", "undetermined"}
    assert found.loc["5", "why"] == "not run: needs transfer_ft and selffer_ft (AnB+, BnB+) nets"
    empty = analysis.summarize(nets.iloc[:0])
    assert empty["effects"].empty and empty["reduced_data"].empty and len(empty["findings"]) == 7


# ---- simulated tables: the designs of the default config and of the imagenet preset ----------------

def grid(random_splits, directions, layers, seeds=(0,), frozen_on="halves", dissimilar_directions=("AB", "BA")):
    """The nets (without top-1) that the workflow trains for such a config, as nets.csv rows."""
    rows = []
    treatments = ["selffer", "selffer_ft", "transfer", "transfer_ft"]
    for seed in seeds:
        for split in (f"random{s}" for s in random_splits):
            for direction in directions:
                target = direction[1]
                rows.append(net("base", 0, 0, split=split, seed=seed, target=target))
                rows += [net(t, n, 0, split=split, seed=seed, target=target) for t in treatments for n in layers]
                if frozen_on == "halves":
                    rows += [net("random_frozen", n, 0, split=split, seed=seed, target=target) for n in layers]
        for direction in dissimilar_directions:
            target = direction[1]
            rows.append(net("base", 0, 0, "dissimilar", target, split="natman", seed=seed))
            rows += [net("transfer", n, 0, "dissimilar", target, split="natman", seed=seed) for n in layers]
        if frozen_on == "whole":
            rows.append(net("base", 0, 0, "unsplit", "A", split="whole", seed=seed))
            rows += [net("random_frozen", n, 0, "unsplit", "A", split="whole", seed=seed) for n in layers]
    return pd.DataFrame(rows)


DEFAULT = dict(random_splits=[0, 1, 2, 3], directions=["AB"], layers=[1, 3, 5, 7])  # config.yaml
BOTH_HALVES = dict(random_splits=[0, 1], directions=["AB", "BA"], layers=[1, 3, 5, 7], seeds=(0, 1))
IMAGENET = dict(random_splits=[0, 1, 2, 3], directions=["AB"], layers=range(1, 8), frozen_on="whole")
DESIGNS = {"default-config": DEFAULT, "both-halves-two-seeds": BOTH_HALVES, "imagenet-preset": IMAGENET}
NOISES = ("independent", "split-correlated", "heavy-tailed", "heteroscedastic")
RHO = 0.5  # split-correlated: the correlation of a split's two halves' corresponding nets


def simulate(template, simulations, seed, shift=None, sd=0.01, noise="independent"):
    """`simulations` copies of the template (data sets sim0, sim1, ...), each net's top-1 = 0.8 + shift(rows)
    + noise of s.d. `sd`: independent normal; split-correlated (each net shares RHO of its variance with the
    net of the same treatment and n on the split's other half: the halves share a partition and nets);
    heavy-tailed (Student's t with 3 df, scaled to s.d. `sd`); heteroscedastic (three times the s.d. on the
    dissimilar split, as its spread in the default run suggests). Pure noise when shift is None."""
    rng = np.random.default_rng(seed)
    tiled = template.loc[np.tile(template.index, simulations)].reset_index(drop=True)
    tiled["dataset"] = np.repeat([f"sim{i}" for i in range(simulations)], len(template))
    offset = 0.0 if shift is None else np.tile(shift(template), simulations)
    size = len(tiled)
    if noise == "heavy-tailed":
        error = rng.standard_t(3, size) / math.sqrt(3)
    elif noise == "split-correlated":
        role = tiled.groupby(["dataset", "split", "seed", "treatment", "n"], sort=False).ngroup().to_numpy()
        error = math.sqrt(RHO) * rng.normal(0, 1, role.max() + 1)[role] + math.sqrt(1 - RHO) * rng.normal(0, 1, size)
    else:
        error = rng.normal(0, 1, size)
        if noise == "heteroscedastic":
            error = error * np.where(tiled["split_kind"] == "dissimilar", 3.0, 1.0)
    tiled["top1"] = 0.8 + offset + sd * error
    return tiled


SIMULATIONS = 2000
# at most 5% plus three Monte-Carlo standard errors of a rate of 5% over SIMULATIONS (6.46%)
CALIBRATED = analysis.ALPHA + 3 * math.sqrt(analysis.ALPHA * (1 - analysis.ALPHA) / SIMULATIONS)


def at_the_null(template):
    """Every finding's effect on its null: none anywhere, but BnB+ one margin below baseB (3; AnB+ with it, as
    5's null is AnB+ = BnB+) and random frozen layers exactly FAR_WORSE below AnB from n = 3 on (4.3)."""
    treatment, n = template["treatment"], template["n"]
    return np.select([treatment.isin(["selffer_ft", "transfer_ft"]), (treatment == "random_frozen") & (n >= 3)],
                     [-analysis.MARGIN, -analysis.FAR_WORSE], 0.0)


def reproduced_rates(found):
    return found.assign(hit=found["outcome"] == "reproduced").groupby("finding")["hit"].mean()


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("design", DESIGNS)
def test_on_noise_at_the_null_no_finding_is_reproduced_more_often_than_alpha(design, noise):
    """2,000 tables of noise at every finding's null, in each design and noise model: each finding says
    reproduced in at most 5% of them (plus three Monte-Carlo standard errors). With the old tests over target
    halves as independent units, split-correlated noise made every finding about 10%."""
    template = grid(**DESIGNS[design])
    found = analysis.findings(simulate(template, SIMULATIONS, seed=1, shift=at_the_null, noise=noise), power_at={})
    assert found.groupby("finding").size().eq(SIMULATIONS).all()
    rates = reproduced_rates(found).drop("1")
    assert (rates <= CALIBRATED).all(), rates.to_dict()
    assert found.loc[found["finding"] != "1", "outcome"].isin(analysis.OUTCOMES).all()
    any_finding = found.assign(hit=found["outcome"] == "reproduced").groupby("dataset")["hit"].any().mean()
    assert any_finding <= summary.FAMILY_WISE, any_finding  # the family-wise rate the summary states


def test_noise_larger_than_the_margin_is_no_evidence_of_recovery():
    """Finding 3 must not pass because the spread is large (absence of evidence). BnB+ equals baseB here, so
    passing is right, but with noise five times the margin the test has little power and passes rarely; with
    little noise, nearly always."""
    rates = {sd: (by_finding(analysis.findings(simulate(grid(**DEFAULT), 300, seed=3, sd=sd), power_at={})).loc[
        "3", "outcome"] == "reproduced").mean() for sd in (0.05, 0.001)}
    assert rates[0.05] <= 0.15 and rates[0.001] >= 0.95, rates


def paper_shaped(template):
    """The paper's effects, in top-1 points: a co-adaptation dip at n = 3-5 that recovers at 7, specificity
    growing with n, BnB+ a point above the base (the paper's +0.011), a larger drop on the dissimilar split,
    random frozen layers far worse; and AnB+ a point above BnB+ (the paper's +0.0008 is too small for any
    design here to see: docs/statistics.md)."""
    n, treatment, kind = template["n"], template["treatment"], template["split_kind"]
    selffer = -0.03 * n.isin([3, 4, 5])
    return np.select(
        [treatment == "selffer", (treatment == "transfer") & (kind == "random"), treatment == "selffer_ft",
         treatment == "transfer_ft", (treatment == "transfer") & (kind == "dissimilar"), treatment == "random_frozen"],
        [selffer, selffer - 0.08 * n / 7, 0.011, 0.021, -0.25 * n / 7, -0.3], 0.0)


@pytest.mark.parametrize("design", DESIGNS)
def test_paper_sized_effects_are_found_with_these_units(design):
    """Effects of the paper's shape (paper_shaped; boost 0.015) in noise of s.d. 0.004, as the default run's
    clusters vary: the findings each design can test are reproduced in 80% of tables or more."""
    found = analysis.findings(simulate(grid(**DESIGNS[design]), 200, seed=4, shift=paper_shaped, sd=0.004))
    rates = reproduced_rates(found)
    testable = {"default-config": ["2", "3", "4", "5", "4.3"], "both-halves-two-seeds": ["2", "3", "4", "5", "4.2", "4.3"],
                "imagenet-preset": ["2", "3", "4", "5"]}[design]  # one whole-task and one natman cluster: untestable
    assert (rates[testable] >= 0.8).all(), rates.to_dict()


def test_the_paper_table_reproduces_its_findings_where_its_design_can_test_them():
    """The paper ran one dissimilar split and one whole-task set of random-frozen nets, each once: one cluster,
    no spread, so 4.2 and 4.3 cannot be tested on its own table. Its boost beyond BnB+ is +0.0008."""
    found = by_finding(analysis.summarize(analysis.paper_nets())["findings"])
    assert found.loc["1", "outcome"] == "reported"
    assert found.loc["1", "value"] == pytest.approx(0.6251, abs=1e-4)
    assert found.loc[["2", "3", "4"], "outcome"].tolist() == ["reproduced"] * 3
    assert found.loc["2", "measured"].startswith("mean over n=3,4,5 of BnB - baseB")
    assert found.loc["4", "value"] == pytest.approx(-0.0824, abs=1e-4)
    assert found.loc["5", "units"] == 2 and found.loc["5", "value"] == pytest.approx(0.0008, abs=1e-4)
    assert found.loc["5", "outcome"] == "not shown"
    assert found.loc[["4.2", "4.3"], "outcome"].tolist() == ["undetermined"] * 2
    assert "1 cluster(s) of the natman split and 4 of the random splits" in found.loc["4.2", "why"]


def test_a_single_unit_is_undetermined_never_reproduced():
    """One split, seed and direction (tests/smoke.yaml) with the paper's effects and noise of s.d. 0.001."""
    template = grid([0], ["AB"], range(1, 8), dissimilar_directions=["AB"])
    found = by_finding(analysis.findings(simulate(template, 1, seed=5, shift=paper_shaped, sd=0.001)))
    judged = found.drop(index="1")
    assert (judged["outcome"] == "undetermined").all(), judged["outcome"].to_dict()
    assert judged.loc["4", "why"] == "too few units: 1 cluster (split and seed) gives no spread; add splits or seeds"


def test_a_flat_table_reproduces_nothing_but_recovery():
    found = by_finding(analysis.findings(simulate(grid(**BOTH_HALVES), 1, seed=6, sd=0.001)))
    assert found.loc[["2", "4", "5", "4.2", "4.3"], "outcome"].isin(["not reproduced", "not shown"]).all()
    assert found.loc[["2", "4", "4.3"], "outcome"].tolist() == ["not reproduced"] * 3  # powered at the paper's
    assert found.loc["3", "outcome"] == "reproduced"  # BnB+ equal to baseB within the margin


def test_an_explicit_split_is_dissimilar_only_when_marked():
    nets = simulate(grid(**BOTH_HALVES), 1, seed=7, shift=paper_shaped, sd=0.001)
    assert by_finding(analysis.findings(nets)).loc["4.2", "outcome"] == "reproduced"
    unmarked = nets.assign(split_kind=nets["split_kind"].replace("dissimilar", "explicit"))
    finding = by_finding(analysis.findings(unmarked)).loc["4.2"]
    assert finding["outcome"] == "undetermined" and "dissimilar: true" in finding["why"]


def test_a_test_without_power_at_the_papers_effect_says_not_shown():
    """No effect, noise of s.d. 0.02: finding 4 (the paper's -0.08 at n=7) is not reproduced with power to spare
    in the default design, and finding 5 (the paper's +0.0008) could not have been seen: not shown, with its
    power; p prints with two significant digits."""
    found = by_finding(analysis.findings(simulate(grid(**DEFAULT), 1, seed=13, sd=0.005)))
    assert found.loc["4", "outcome"] == "not reproduced" and "power 1.00 at the paper's effect" in found.loc["4", "why"]
    assert found.loc["5", "outcome"] == "not shown" and "at the paper's effect (+0.0008)" in found.loc["5", "why"]
    assert analysis.p_text(0.0497) == "p = 0.0497 < 0.05" and analysis.p_text(0.0501) == "p = 0.0501 >= 0.05"
    assert analysis.p_text(0.123) == "p = 0.12 >= 0.05" and analysis.p_text(0.00456) == "p = 0.0046 < 0.05"
    assert analysis.p_text(0.0499996) == "p = 0.0499996 < 0.05" and analysis.p_text(0.04999999) == "p = 0.04999999 < 0.05"


def test_the_guard_blocks_only_what_unfinished_base_nets_could_have_caused():
    """The base nets gained 2 points in their last epoch: nets started from their layers trained longer, which
    can only have raised BnB and BnB+ against them. Finding 3 (raised towards reproduced) becomes undetermined;
    2 reproduced against that bias stays reproduced; 4, 4.2, 4.3 and 5 compare nets of equal training."""
    nets = simulate(grid(**BOTH_HALVES), 1, seed=8, shift=paper_shaped, sd=0.001)
    gain = np.where(nets["treatment"] == "base", 0.02, 0.0)
    found = by_finding(analysis.findings(nets.assign(last_epoch_gain=gain)))
    assert found.loc["3", "outcome"] == "undetermined" and found.loc["3", "why"].startswith("base nets not converged")
    assert "the test alone says reproduced" in found.loc["3", "why"]
    assert found.loc[["2", "4", "5", "4.2", "4.3"], "outcome"].tolist() == ["reproduced"] * 5
    small = by_finding(analysis.findings(nets.assign(last_epoch_gain=np.where(nets["treatment"] == "base", 1e-4, 0))))
    assert small.loc["3", "outcome"] == "reproduced", "a gain too small to move the bound across the null"


def test_the_guard_on_recovery_looks_at_every_layer_not_only_the_worst_p():
    """Finding 3 at every n: removing a bias of 0.005 lowers every layer's bound alike, so the layer nearest the
    null (n=1: BnB+ 0.006 below the base, exactly) fails first, though the worst p is n=3's (noisier, farther)."""
    nets = grid(**DEFAULT).assign(dataset="d", top1=0.8)
    recovery = {1: [-0.006] * 4, 3: [0.0, 0.04, 0.01, 0.03], 5: [0.02] * 4, 7: [0.02] * 4}
    for n, values in recovery.items():
        for split, value in zip(["random0", "random1", "random2", "random3"], values):
            at = (nets["treatment"] == "selffer_ft") & (nets["n"] == n) & (nets["split"] == split)
            nets.loc[at, "top1"] = 0.8 + value + 1e-6 * n * int(split[-1])  # a hair of spread at n = 1, 5, 7
    base = nets["treatment"] == "base"
    converged = by_finding(analysis.findings(nets.assign(last_epoch_gain=0.0))).loc["3"]
    assert converged["outcome"] == "reproduced" and "n=3" in converged["measured"]  # the worst p: n=3's
    gained = by_finding(analysis.findings(nets.assign(last_epoch_gain=np.where(base, 0.005, 0.0)))).loc["3"]
    assert gained["outcome"] == "undetermined" and gained["why"].startswith("base nets not converged")


def test_the_guard_on_a_hidden_dip():
    """Finding 2 with a dip of half a point, hidden by base nets that gained a point: undetermined, not 'not
    reproduced'; the same gain does not touch a flat table, whose dip is absent whatever the bias."""
    def shallow_dip(template):
        return -0.002 * template["n"].isin([3, 5]) * (template["treatment"] == "selffer")
    nets = simulate(grid(**DEFAULT), 1, seed=14, shift=shallow_dip, sd=0.0005)
    gained = nets.assign(last_epoch_gain=np.where(nets["treatment"] == "base", 0.01, 0.0))
    lifted = gained.assign(top1=gained["top1"] + np.where(gained["treatment"] == "selffer", 0.01, 0.0))
    found = by_finding(analysis.findings(lifted))
    assert found.loc["2", "outcome"] == "undetermined" and "the test alone says not" in found.loc["2", "why"]
    flat = simulate(grid(**DEFAULT), 1, seed=14, sd=0.0005)
    flat = flat.assign(last_epoch_gain=np.where(flat["treatment"] == "base", 0.01, 0.0))
    assert by_finding(analysis.findings(flat)).loc["2", "outcome"] != "undetermined"


def test_the_guards_bias_is_a_mean_that_does_not_grow_with_more_clusters():
    """The old guard took the largest gain of any base net: with more splits it fired more often."""
    few = grid(**DEFAULT)
    many = grid(**{**DEFAULT, "random_splits": list(range(16))})
    for template in (few, many):
        full = template.assign(dataset="d", top1=0.8, last_epoch_gain=np.where(template["treatment"] == "base", 0.004, 0))
        full.loc[full.index[0], "last_epoch_gain"] = 0.02  # one base net still gained 2 points
        bias = analysis.training_bias(analysis._full_training(full))["d"]
        bases = (template["treatment"].eq("base") & template["split_kind"].eq("random")).sum()
        expected = (0.02 + 0.004 * (bases - 1)) / bases
        assert bias == pytest.approx(expected)


def test_each_finding_states_its_test():
    found = by_finding(analysis.findings(analysis.paper_nets()))
    assert "Intersection-union" in found.loc["2", "test"] and "non-inferiority" in found.loc["3", "test"]
    assert "Welch" in found.loc["4.2", "test"] and "clusters" in found.loc["4", "test"]
    assert all(str(analysis.ALPHA) in found.loc[f, "test"] for f in ("2", "3", "4", "5", "4.2", "4.3"))


# ---- the interval shown beside each finding is its test's -------------------------------------------

def excludes_null(found):
    return (found["ci_low"] > found["null"]) | (found["ci_high"] < found["null"])


@pytest.mark.parametrize("design", DESIGNS)
def test_reproduced_exactly_where_the_shown_interval_excludes_the_null(design):
    """p < alpha exactly where the row's interval excludes its test's null, on tables whose effects (a
    tenth of the paper's, in noise) put many p values near alpha."""
    found = analysis.findings(simulate(grid(**DESIGNS[design]), 200, seed=11, shift=lambda t: 0.1 * paper_shaped(t)))
    tested = found[found["p_value"].notna()]
    near_alpha = tested[tested["p_value"].between(analysis.ALPHA / 2, 2 * analysis.ALPHA)]
    assert near_alpha.groupby("finding").size().ge(3).all() and near_alpha["finding"].nunique() >= 3
    assert ((tested["p_value"] < analysis.ALPHA) == excludes_null(tested)).all()
    assert ((tested["outcome"] == "reproduced") == excludes_null(tested)).all()
    assert np.isinf(tested[["ci_low", "ci_high"]]).sum(axis=1).eq(1).all(), "one side open: a one-sided bound"


def scipy_findings(units):
    """Each tested finding's (p, interval) from scipy, for one data set's unit effects, on cluster values (each
    split and seed's mean over its target halves)."""
    def clusters(effect, kinds=("random",), n=None, by_n=False):
        rows = units[(units["effect"] == effect) & units["split_kind"].isin(kinds)]
        rows = rows if n is None else rows[rows["n"].isin(n)]
        return rows.groupby(["split", "seed"] + (["n"] if by_n else []))["diff"].mean()

    said = {}
    layers = sorted(units["n"].unique())
    middle = [n for n in (3, 4, 5) if n in layers and n < layers[-1]]
    dip = stats.ttest_1samp(clusters("co_adaptation", n=middle), 0, alternative="less")
    top = clusters("co_adaptation", n=middle) - clusters("co_adaptation", n=[layers[-1]])
    said["2"] = max(dip, stats.ttest_1samp(top, 0, alternative="less"), key=lambda r: r.pvalue)
    recovery = clusters("fine_tune_recovery", by_n=True).groupby("n")
    said["3"] = max((stats.ttest_1samp(v, -analysis.MARGIN, alternative="greater") for _, v in recovery),
                    key=lambda r: r.pvalue)
    said["4"] = stats.ttest_1samp(clusters("specificity", n=[layers[-1]]), 0, alternative="less")
    beyond = clusters("boost", by_n=True) - clusters("fine_tune_recovery", by_n=True)
    said["5"] = stats.ttest_1samp(beyond.groupby(["split", "seed"]).mean(), 0, alternative="greater")
    said["4.2"] = conservative_welch(clusters("transfer_drop", ("dissimilar",), n=[layers[-1]]),
                                     clusters("transfer_drop", n=[layers[-1]]))
    deep = [n for n in layers if n >= 3]
    frozen, transfer = clusters("random_frozen_drop", ("random", "unsplit"), n=deep), clusters("transfer_drop", n=deep)
    said["4.3"] = (stats.ttest_1samp(frozen - transfer, -analysis.FAR_WORSE, alternative="less")
                   if frozen.index.equals(transfer.index) else
                   conservative_welch(frozen + analysis.FAR_WORSE, transfer))
    return {f: (r.pvalue, r.confidence_interval(1 - analysis.ALPHA)) for f, r in said.items()}


def conservative_welch(first, second):
    """scipy's Welch t statistic for "first below second", with the smaller side's df, min(n1, n2) - 1."""
    result = stats.ttest_ind(first, second, equal_var=False, alternative="less")
    df = min(len(first), len(second)) - 1.0
    se = (first.mean() - second.mean()) / result.statistic
    high = first.mean() - second.mean() + stats.t.ppf(1 - analysis.ALPHA, df) * se
    return SimpleNamespace(pvalue=stats.t.cdf(result.statistic, df),
                           confidence_interval=lambda level: SimpleNamespace(low=-np.inf if high == high else np.nan, high=high))


@pytest.mark.parametrize("design", ["both-halves-two-seeds", "imagenet-preset"])
def test_each_findings_p_and_interval_are_scipys(design):
    """The one-sided interval and p of each finding, as scipy's t tests give them on cluster values:
    one-sample, paired, and Welch's two-sample."""
    nets = simulate(grid(**DESIGNS[design]), 3, seed=12, shift=lambda t: 0.1 * paper_shaped(t))
    found, units = analysis.findings(nets), analysis.unit_effects(nets)
    for dataset, ours in found[found["finding"] != "1"].groupby("dataset"):
        scipy_says = scipy_findings(units[units["dataset"] == dataset])
        for row in ours.itertuples():
            p, interval = scipy_says[row.finding]
            low, high = interval.low, interval.high
            if row.finding == "4.3" and design == "imagenet-preset":  # scipy's interval of frozen + margin - transfer
                low, high = low - analysis.FAR_WORSE, high - analysis.FAR_WORSE
            assert (row.p_value, row.ci_low, row.ci_high) == pytest.approx((p, low, high), nan_ok=True), row.finding


def test_the_reported_base_level_has_an_interval_within_0_and_1():
    """Finding 1 is no test: a two-sided 95% t interval of the clusters' logits, back on the accuracy scale, so
    that base nets near 100% do not get an interval beyond it (the default run's said [0.8745, 1.0078])."""
    nets = simulate(grid(**{**DEFAULT, "random_splits": [0, 1]}), 1, seed=15, sd=0.01)
    nets.loc[nets["treatment"] == "base", "top1"] = [0.999, 0.95, 0.998, 0.96]  # random0, random1, the dissimilar
    found = by_finding(analysis.findings(nets))
    assert 0 < found.loc["1", "ci_low"] < found.loc["1", "value"] < found.loc["1", "ci_high"] < 1
    assert np.isnan(found.loc["1", "null"]) and np.isnan(found.loc["1", "p_value"])
    paper = by_finding(analysis.findings(analysis.paper_nets())).loc["1"]
    bases = analysis.paper_nets().query("split_kind == 'random' and treatment == 'base'")
    logits = bases.groupby("split")["top1"].mean().map(lambda p: math.log(p / (1 - p)))
    interval = stats.ttest_1samp(logits, 0).confidence_interval(0.95)
    assert [paper["ci_low"], paper["ci_high"]] == pytest.approx([analysis.expit(interval.low), analysis.expit(interval.high)])

# ---- the command and its files ----------------------------------------------------------------

def test_summarize_command_writes_rounded_tables_with_empty_spreads(tmp_path):
    nets = simulate(grid([0], ["AB"], [1, 2], dissimilar_directions=[]), 1, seed=9, sd=0.00123)
    tables.write_csv(nets, tmp_path / "nets.csv")
    paths = {name: tmp_path / f"{name}.csv" for name in outputs.SUMMARY_TABLES}
    assert cli.main(["summarize", "--nets", str(tmp_path / "nets.csv"), "--out-dir", str(tmp_path)]) == 0
    effects = pd.read_csv(paths["effects"])
    assert effects["mean"].map(lambda v: round(v, 4) == v).all()
    assert effects["sem"].isna().all(), "one unit: the spread is empty in the file"
    assert ",," in paths["effects"].read_text().splitlines()[1]
    found = tables.read_table(paths["findings"])
    assert found.loc[found["finding"] == "2", "outcome"].item() == "undetermined"
    units = tables.read_table(paths["unit_effects"])
    assert list(units.columns) == [*analysis.UNIT, "effect", "n", "diff"]
    written = analysis.effects_table(units)  # the per-unit table is what effects.csv summarises
    assert written["mean"].round(4).tolist() == effects["mean"].tolist()


def test_collect_reads_the_last_epoch_gain(tmp_path):
    folder = tmp_path / "baseB"
    folder.mkdir()
    metrics = dict(dataset="d", split="random0", seed=0, net="baseB", treatment="base", source="", target="B",
                   n=0, fine_tuned=False, images_per_class=None, top1=0.9, top5=1.0, loss=0.3, top1_best=0.9,
                   epochs=3, wall_s=1.0, images_per_s=1.0, settings_hash="x")
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "epochs.csv").write_text("epoch,val_top1\n1,0.80\n2,0.88\n3,0.895\n")
    table = tables.collect_metrics([folder / "metrics.json"], {"random0": "random"})
    assert table.loc[0, "last_epoch_gain"] == pytest.approx(0.015)
    assert table.loc[0, "split_kind"] == "random"


def test_paper_numbers_match_reference_readme():
    paper = analysis.paper_per_layer()
    assert row(paper, split_kind="random", treatment="base")["mean"] == pytest.approx(0.6251, abs=1e-4)
    assert row(paper, split_kind="random", treatment="base")["count"] == 4  # clusters: 4 splits, 2 halves each
    assert row(paper, split_kind="random", treatment="transfer", n=7)["mean"] == pytest.approx(0.5425, abs=1e-4)
    assert row(paper, split_kind="random", treatment="transfer", n=7)["count"] == 4
    assert row(paper, split_kind="random", treatment="selffer", n=5)["mean"] == pytest.approx(0.5935, abs=1e-4)
    assert row(paper, split_kind="random", treatment="transfer_ft", n=3)["mean"] == pytest.approx(0.6426, abs=1e-4)
    assert row(paper, split_kind="unsplit", treatment="base")["mean"] == pytest.approx(0.5763, abs=1e-4)
    assert row(paper, split_kind="dissimilar", target="natural", treatment="base")["mean"] == pytest.approx(
        0.6534, abs=1e-4)
    effects = analysis.effects_table(analysis.unit_effects(analysis.paper_nets()))
    natman = effects[(effects["split"] == "natman") & (effects["target"] == "")].set_index("n")["mean"]
    readme = [0.0029, -0.0093, -0.0324, -0.0733, -0.1295, -0.1657, -0.2501]
    assert natman.tolist() == pytest.approx(readme, abs=1e-4)
    frozen = effects[effects["effect"] == "random_frozen_drop"].set_index("n")["mean"]
    assert frozen[1] == pytest.approx(0.4917 - 0.5763, abs=1e-4)


def test_paper_nets_swap_natman_letters():
    nets = analysis.paper_nets()
    natural = nets[nets["net"] == "transfernatmanBA_1_7"].iloc[0]  # in the logs B = man-made, A = natural
    assert (natural["source"], natural["target"], natural["split_kind"]) == ("man-made", "natural", "dissimilar")
    reduced = nets[nets["images_per_class"].notna()]
    assert sorted(reduced["images_per_class"]) == [1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1300]
    assert nets["top1"].notna().all()  # the 22 directories without logs are left out
    assert len(analysis.paper_reference()) == 170


def test_compare_with_paper():
    nets = pd.DataFrame([net("base", 0, 0.7), net("transfer", 7, 0.6), net("random_frozen", 1, 0.5)])
    table = analysis.compare_with_paper(analysis.per_layer_table(nets), analysis.paper_per_layer())
    transfer = row(table, split_kind="random", treatment="transfer", n=7)
    assert transfer["difference"] == pytest.approx(0.6 - 0.5425, abs=1e-4)
    frozen = row(table, split_kind="random", treatment="random_frozen", n=1)
    assert frozen["paper"] == pytest.approx(0.4917, abs=1e-4)
    assert np.isnan(row(table, split_kind="random", treatment="selffer", n=1)["ours"])


# measured on the default run's nets (docs/statistics.md, "What the default can decide"): finding, null,
# s.d. of its per-cluster value, alternative
DEFAULT_SPREAD = [("2", 0.0, 0.0022, "less"), ("2", 0.0, 0.0013, "less"), ("3", -analysis.MARGIN, 0.0045, "greater"),
                  ("4", 0.0, 0.0327, "less"), ("5", 0.0, 0.0057, "greater"), ("4.3", -analysis.FAR_WORSE, 0.0054, "less")]


def test_the_documented_power_of_the_default_design_is_computed_from_its_inputs():
    doc = (Path(__file__).resolve().parents[1] / "docs/statistics.md").read_text().replace("\u2212", "-")
    effects = analysis.paper_finding_values()
    for finding, null, sd, alternative in DEFAULT_SPREAD:
        power = analysis.design_power(effects[finding], null, sd, 4, alternative)
        needed = analysis.clusters_for_power(effects[finding], null, sd, alternative)
        assert f"| {effects[finding]:+.4f} | {null:g} | {sd:.4f} | {power:.2f} | {needed} |" in doc, finding
