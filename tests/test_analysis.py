"""Tests of the analysis tables (transferability.analysis), on hand-made tables and the paper's data."""

import math

import numpy as np
import pandas as pd
import pytest

from transferability import analysis


def net(treatment, n, top1, split_kind="random", target="B", images_per_class=np.nan, top5=np.nan):
    return dict(split_kind=split_kind, treatment=treatment, n=n, target=target, top1=top1, top5=top5,
                images_per_class=images_per_class)


def row(table, **keys):
    mask = np.logical_and.reduce([table[k] == v for k, v in keys.items()])
    assert mask.sum() == 1, f"expected one row for {keys}, got {mask.sum()}"
    return table[mask].iloc[0]


@pytest.fixture
def hand_nets():
    return pd.DataFrame([
        net("base", 0, 0.6, top5=0.9), net("base", 0, 0.8, top5=0.7),
        net("selffer", 1, 0.5), net("selffer", 1, 0.6),
        net("transfer", 1, 0.4),
        net("base", 0, 0.1, images_per_class=10),  # reduced data: not a base of the transfer grid
        net("transfer", 2, np.nan),  # a net without a result
    ])


def test_per_layer_means_and_spread(hand_nets):
    table = analysis.per_layer_table(hand_nets)
    assert len(table) == 3
    base = row(table, treatment="base")
    assert (base["n"], base["count"], base["target"]) == (0, 2, "")
    assert base["mean"] == pytest.approx(0.7)
    assert base["std"] == pytest.approx(math.sqrt(0.02))  # ddof=1
    assert base["sem"] == pytest.approx(0.1)
    assert base["ci95"] == pytest.approx(12.7062 * 0.1)
    assert base["top5_mean"] == pytest.approx(0.8)
    single = row(table, treatment="transfer")
    assert (single["count"], single["std"], single["sem"], single["ci95"]) == (1, 0.0, 0.0, 0.0)


def test_effects_by_hand(hand_nets):
    effects = analysis.effects_table(analysis.per_layer_table(hand_nets))
    co = row(effects, effect="co_adaptation", n=1)
    assert co["value"] == pytest.approx(0.55 - 0.7)
    assert co["sem"] == pytest.approx(math.sqrt(0.1**2 + 0.05**2))
    assert (co["count_a"], co["count_b"]) == (2, 2)
    assert row(effects, effect="specificity", n=1)["value"] == pytest.approx(0.4 - 0.55)
    assert row(effects, effect="transfer_drop", n=1)["value"] == pytest.approx(0.4 - 0.7)
    # treatments that were not run give no rows and no error
    assert not effects["effect"].isin(["boost", "fine_tune_recovery", "random_frozen_drop"]).any()
    assert set(effects["n"]) == {1}


def test_base_of_an_untargeted_half_is_no_reference():
    nets = pd.DataFrame([net("base", 0, 0.9, target="A"), net("base", 0, 0.6), net("selffer", 1, 0.5)])
    base = row(analysis.per_layer_table(nets), treatment="base")
    assert (base["count"], base["mean"]) == (1, pytest.approx(0.6))
    co = row(analysis.effects_table(analysis.per_layer_table(nets)), effect="co_adaptation", n=1)
    assert co["value"] == pytest.approx(0.5 - 0.6)


def test_paired_effects_keep_the_level_of_each_half_out_of_the_spread():
    def unit(target, level, seed=0):
        return [dict(net(t, n, level + d, target=target), split="random0", seed=seed)
                for t, n, d in (("base", 0, 0.0), ("selffer", 1, -0.01), ("transfer", 1, -0.03))]
    nets = pd.DataFrame(unit("A", 0.9) + unit("B", 0.7))
    paired = analysis.paired_effects(nets)
    co = row(paired, effect="co_adaptation", n=1)
    assert (co["value"], co["sem"], co["count_a"]) == (pytest.approx(-0.01), 0.0, 2)
    assert row(paired, effect="specificity", n=1)["value"] == pytest.approx(-0.02)
    unpaired = row(analysis.effects_table(analysis.per_layer_table(nets)), effect="co_adaptation", n=1)
    assert unpaired["value"] == pytest.approx(-0.01) and unpaired["sem"] > 0.1


def test_missing_treatments_do_not_crash():
    nets = pd.DataFrame([net("base", 0, 0.7), net("selffer", 3, 0.65)])
    per_layer = analysis.per_layer_table(nets)
    effects = analysis.effects_table(per_layer)
    assert list(effects["effect"]) == ["co_adaptation"]
    found = analysis.findings(per_layer, effects).set_index("finding")
    assert found.loc[["3", "4", "5", "4.2", "4.3"], "reproduced"].isna().all()
    empty = analysis.per_layer_table(nets.iloc[:0])
    assert analysis.effects_table(empty).empty
    assert len(analysis.findings(empty, analysis.effects_table(empty))) == 7


def test_explicit_split_keeps_directions_apart():
    nets = pd.DataFrame([
        net("base", 0, 0.6, "explicit", "A"), net("transfer", 1, 0.5, "explicit", "A"),
        net("base", 0, 0.8, "explicit", "B"), net("transfer", 1, 0.6, "explicit", "B"),
    ])
    per_layer = analysis.per_layer_table(nets)
    assert set(per_layer["target"]) == {"A", "B"}
    assert (per_layer["std"] == 0).all()  # the halves differ in level, which is no noise
    effects = analysis.effects_table(per_layer)
    mean = row(effects, effect="transfer_drop", target="", n=1)
    assert mean["value"] == pytest.approx(((0.5 - 0.6) + (0.6 - 0.8)) / 2)
    assert row(effects, effect="transfer_drop", target="B", n=1)["value"] == pytest.approx(-0.2)


def test_t_quantile():
    assert analysis.t_quantile_975(0) == 0.0
    assert analysis.t_quantile_975(1) == pytest.approx(12.7062)
    assert analysis.t_quantile_975(40) == pytest.approx(2.0211, abs=1e-4)
    assert analysis.t_quantile_975(1000) == pytest.approx(1.9623, abs=1e-4)


def test_paper_numbers_match_reference_readme():
    paper = analysis.paper_per_layer()
    assert row(paper, split_kind="random", treatment="base")["mean"] == pytest.approx(0.6251, abs=1e-4)
    assert row(paper, split_kind="random", treatment="base")["count"] == 8
    assert row(paper, split_kind="random", treatment="transfer", n=7)["mean"] == pytest.approx(0.5425, abs=1e-4)
    assert row(paper, split_kind="random", treatment="transfer", n=7)["count"] == 8
    assert row(paper, split_kind="random", treatment="selffer", n=5)["mean"] == pytest.approx(0.5935, abs=1e-4)
    assert row(paper, split_kind="random", treatment="transfer_ft", n=3)["mean"] == pytest.approx(0.6426, abs=1e-4)
    assert row(paper, split_kind="unsplit", treatment="base")["mean"] == pytest.approx(0.5763, abs=1e-4)
    assert row(paper, split_kind="explicit", target="natural", treatment="base")["mean"] == pytest.approx(
        0.6534, abs=1e-4)
    effects = analysis.effects_table(paper)
    natman = effects[(effects["split_kind"] == "explicit") & (effects["target"] == "")].set_index("n")["value"]
    readme = [0.0029, -0.0093, -0.0324, -0.0733, -0.1295, -0.1657, -0.2501]
    assert natman.tolist() == pytest.approx(readme, abs=1e-4)
    assert row(effects, split_kind="random", effect="co_adaptation", n=5)["value"] == pytest.approx(-0.0316, abs=1e-4)
    assert row(effects, split_kind="random", effect="specificity", n=7)["value"] == pytest.approx(-0.0808, abs=1e-4)
    boost = effects[effects["effect"] == "boost"]["value"]
    assert boost.mean() == pytest.approx(0.0167, abs=1e-4)
    frozen = effects[effects["effect"] == "random_frozen_drop"].set_index("n")["value"]
    assert frozen[1] == pytest.approx(0.4917 - 0.5763, abs=1e-4)


def test_paper_reproduces_all_its_findings():
    paper = analysis.paper_per_layer()
    found = analysis.findings(paper, analysis.effects_table(paper)).set_index("finding")
    assert found.loc["1", "reproduced"] is None
    assert found.loc[["2", "3", "4", "5", "4.2", "4.3"], "reproduced"].tolist() == [True] * 6
    assert found.loc["5", "value"] == pytest.approx(0.0167, abs=1e-4)


def test_paper_nets_swap_natman_letters():
    nets = analysis.paper_nets()
    natural = nets[nets["net"] == "transfernatmanBA_1_7"].iloc[0]  # in the logs B = man-made, A = natural
    assert (natural["source"], natural["target"], natural["split_kind"]) == ("man-made", "natural", "explicit")
    reduced = nets[nets["images_per_class"].notna()]
    assert sorted(reduced["images_per_class"]) == [1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1300]
    assert nets["top1"].notna().all()  # the 22 directories without logs are left out
    assert len(analysis.paper_reference()) == 170


def synthetic_nets(level, dip, specific, boost, dissimilar, frozen):
    """Three seeds (noise -0.002, 0, +0.002) of every treatment; the arguments shape the effects."""
    rows = []
    for noise in (-0.002, 0.0, 0.002):
        rows.append(net("base", 0, level + noise))
        for half in ("A", "B"):
            rows.append(net("base", 0, level + noise, "explicit", half))
        for n in range(1, 8):
            selffer = level - dip * (n in (3, 4, 5))
            rows += [net("selffer", n, selffer + noise), net("selffer_ft", n, level + noise),
                     net("transfer", n, selffer - specific * n / 7 + noise),
                     net("transfer_ft", n, level + boost + noise), net("random_frozen", n, level - frozen + noise)]
            rows += [net("transfer", n, level - dissimilar * n / 7 + noise, "explicit", half) for half in "AB"]
    return pd.DataFrame(rows)


def test_findings_hold_on_a_table_shaped_like_the_paper():
    per_layer = analysis.per_layer_table(synthetic_nets(0.7, dip=0.03, specific=0.08, boost=0.02,
                                                        dissimilar=0.25, frozen=0.4))
    found = analysis.findings(per_layer, analysis.effects_table(per_layer)).set_index("finding")
    assert found["reproduced"].tolist() == [None, True, True, True, True, True, True]
    assert found.loc["2", "value"] == pytest.approx(-0.03)
    assert found.loc["2", "measured"] == "min over n of BnB - baseB (at n=3)"
    assert found.loc["4", "value"] == pytest.approx(-0.08)
    assert found.loc["5", "value"] == pytest.approx(0.02)


def test_findings_fail_on_a_flat_table():
    per_layer = analysis.per_layer_table(synthetic_nets(0.7, dip=0, specific=0, boost=0, dissimilar=0, frozen=0))
    found = analysis.findings(per_layer, analysis.effects_table(per_layer)).set_index("finding")
    assert found.loc[["2", "4", "5", "4.2", "4.3"], "reproduced"].tolist() == [False] * 5
    assert found.loc["3", "reproduced"] is True  # BnB+ equal to baseB is what finding 3 says


def test_compare_with_paper():
    nets = pd.DataFrame([net("base", 0, 0.7), net("transfer", 7, 0.6), net("random_frozen", 1, 0.5)])
    table = analysis.compare_with_paper(analysis.per_layer_table(nets), analysis.paper_per_layer())
    transfer = row(table, split_kind="random", treatment="transfer", n=7)
    assert transfer["difference"] == pytest.approx(0.6 - 0.5425, abs=1e-4)
    frozen = row(table, split_kind="random", treatment="random_frozen", n=1)
    assert frozen["paper"] == pytest.approx(0.4917, abs=1e-4)
    assert np.isnan(row(table, split_kind="random", treatment="selffer", n=1)["ours"])
