"""How many of a source's units to freeze (transferability.freezing): the answer's test, its calibration on
noise with the dependence the real design has, and its power where the answer is clear."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from test_analysis import CALIBRATED, DESIGNS, NOISES, SIMULATIONS, grid, net, simulate
from transferability import freezing
from transferability.analysis import ALPHA, per_layer_units
from transferability.freezing import MARGIN


def at_the_boundary(template):
    """Every AnB exactly MARGIN below every AnB+: freezing any n costs exactly the margin (the null's edge)."""
    return np.where(template["treatment"] == "transfer", -MARGIN, 0.0)


def at_the_boundary_with_a_clear_best(template):
    """AnB+ three points higher at n = 3 than elsewhere, every AnB exactly MARGIN below that best: the best n is
    never in doubt, so its pick adds no bias and the first test is at its nominal level."""
    treatment, n = template["treatment"], template["n"]
    return np.select([(treatment == "transfer_ft") & (n == 3), treatment == "transfer"], [0.03, 0.03 - MARGIN], 0.0)


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("shift", [at_the_boundary, at_the_boundary_with_a_clear_best], ids=["flat", "clear-best"])
@pytest.mark.parametrize("design", DESIGNS)
def test_on_noise_at_the_margin_freezing_is_shown_no_more_often_than_alpha(design, shift, noise):
    """2,000 tables per design, AnB+ profile and noise model where freezing any n costs exactly the margin: the
    answer says 'shown' for some n in at most 5% of them (plus three Monte-Carlo standard errors)."""
    tables = simulate(grid(**DESIGNS[design]), SIMULATIONS, seed=2, shift=shift, noise=noise)
    answers = freezing.freezing_table(per_layer_units(tables))
    assert len(answers) == SIMULATIONS and answers["outcome"].isin(freezing.OUTCOMES).all()
    rate = (answers["outcome"] == "shown").mean()
    assert rate <= CALIBRATED, rate


def test_a_clear_answer_is_found_with_the_default_design():
    """Freezing costs nothing up to n = 3 and 5 points from n = 5 on: with the default's 4 clusters the answer
    is n = 3 in most tables, and never deeper."""
    template = grid(**DESIGNS["default-config"])
    cost = np.where((template["treatment"] == "transfer") & (template["n"] >= 5), -0.05, 0.0)
    answers = freezing.freezing_table(per_layer_units(simulate(template, 200, seed=3, shift=lambda t: cost, sd=0.002)))
    assert (answers["deepest_n"] <= 3).all()
    assert (answers["deepest_n"] == 3).mean() > 0.8


def test_each_layers_test_is_scipys_paired_one_sided_t_test_against_the_margin():
    rng = np.random.default_rng(4)
    rows = []
    for split in range(3):
        best = 0.9 + rng.normal(0, 0.01)
        rows += [net("transfer_ft", n, best - 0.001 * n, split=f"random{split}") for n in (1, 3)]
        rows += [net("transfer", n, best - 0.004 * n + rng.normal(0, 0.003), split=f"random{split}") for n in (1, 3)]
    nets = pd.DataFrame(rows)
    units = per_layer_units(nets)
    best, tests = freezing.layer_tests(units[units["treatment"].isin(["transfer", "transfer_ft"])])
    assert best["best_n"].tolist() == [1]
    tests = tests.droplevel(freezing.KEYS)
    for n in (1, 3):
        frozen = nets[(nets["treatment"] == "transfer") & (nets["n"] == n)]["top1"].to_numpy()
        best = nets[(nets["treatment"] == "transfer_ft") & (nets["n"] == 1)]["top1"].to_numpy()
        expected = stats.ttest_1samp(best - frozen, MARGIN, alternative="less")
        assert tests.loc[n, "p_value"] == pytest.approx(expected.pvalue)
        upper = stats.ttest_1samp(best - frozen, 0).confidence_interval(1 - 2 * ALPHA).high  # one-sided 95%
        assert tests.loc[n, "bound"] == pytest.approx(upper)


def test_the_answer_stops_at_the_first_layer_not_shown():
    """A fixed sequence: a deeper n that passes after one that did not is not claimed."""
    rows = []
    for split, noise in enumerate((0.0, 0.001, -0.001)):
        rows += [net("transfer_ft", n, 0.9, split=f"random{split}") for n in (1, 3, 5)]
        rows += [net("transfer", 1, 0.9 + noise, split=f"random{split}"),
                 net("transfer", 3, 0.85 + noise, split=f"random{split}"),  # 5 points: not within the margin
                 net("transfer", 5, 0.9 + noise, split=f"random{split}")]
    answer = freezing.freezing_table(per_layer_units(pd.DataFrame(rows))).iloc[0]
    assert answer["outcome"] == "shown" and answer["deepest_n"] == 1
    assert answer["answer"].startswith("freezing unit 1 (the units above trained anew on B, as AnB) costs at most")
    assert "not shown at n = 3" in answer["why"]


def test_one_cluster_is_undetermined_and_no_fine_tuned_nets_no_answer():
    one = pd.DataFrame([net("transfer_ft", 1, 0.9), net("transfer", 1, 0.89)])
    assert freezing.freezing_table(per_layer_units(one)).iloc[0]["outcome"] == "undetermined"
    assert freezing.freezing_table(per_layer_units(pd.DataFrame([net("transfer", 1, 0.89)]))).empty


def test_a_layer_paired_in_one_cluster_is_not_tested_and_does_not_end_the_answer():
    """AnB at n = 1 in one cluster only: n = 3 and 5 are still tested, and the why says n = 1 was not."""
    rows = []
    for split, noise in enumerate((0.0, 0.001, -0.001)):
        rows += [net("transfer_ft", n, 0.9, split=f"random{split}") for n in (1, 3, 5)]
        rows += [net("transfer", n, 0.9 + noise, split=f"random{split}") for n in (3, 5)]
    rows.append(net("transfer", 1, 0.9, split="random0"))
    answer = freezing.freezing_table(per_layer_units(pd.DataFrame(rows))).iloc[0]
    assert answer["outcome"] == "shown" and answer["deepest_n"] == 5 and answer["units"] == 3
    assert "n = 1 paired in one cluster only: not tested" in answer["why"]
    assert "nan" not in answer["answer"] + answer["why"]
