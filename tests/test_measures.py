"""The layer measures' tables: units, intervals, pairing, and the rank correlation with the transfer drop."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from transferability.layer_figures import filter_mosaic
from transferability.measures import layer_measures, probe_units, rank_correlations, summarise, transfer_drop_units

KINDS = {"random0": "random", "random1": "random", "dissimilar": "explicit"}


def test_one_unit_has_no_interval_never_zero():
    table = pd.DataFrame({"key": ["x"], "value": [0.3]})
    row = summarise(table, ["key"], "value").iloc[0]
    assert row["units"] == 1 and row["mean"] == 0.3
    assert math.isnan(row["std"]) and math.isnan(row["ci95_low"]) and math.isnan(row["ci95_high"])


def test_interval_is_the_t_interval_across_units():
    values = [0.1, 0.4, 0.25]
    row = summarise(pd.DataFrame({"key": "x", "value": values}), ["key"], "value").iloc[0]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((low, high))


def _probes(split, seed, values):
    """values: {(source, target): [top-1 at layers 1..7]}"""
    return pd.DataFrame([{"split": split, "seed": seed, "net": f"base{s}", "source": s, "target": t,
                          "layer": layer, "top1": top1}
                         for (s, t), curve in values.items() for layer, top1 in enumerate(curve, start=1)])


def test_probe_drop_pairs_the_other_half_with_the_targets_own_net():
    probes = _probes("random0", 0, {("A", "B"): [0.8] * 7, ("B", "B"): [0.9] * 7,
                                    ("B", "A"): [0.5] * 7, ("A", "A"): [0.7] * 7})
    units = probe_units(probes).set_index(["target", "layer"])
    assert units.loc[("B", 3), "drop"] == pytest.approx(-0.1)
    assert units.loc[("A", 3), "drop"] == pytest.approx(-0.2)


def _nets(split, seed, target, base, selffer, transfer):
    rows = [{"split": split, "seed": seed, "target": target, "treatment": "base", "n": 0, "top1": base}]
    for n in range(1, 8):
        rows += [{"split": split, "seed": seed, "target": target, "treatment": "selffer", "n": n, "top1": selffer[n - 1]},
                 {"split": split, "seed": seed, "target": target, "treatment": "transfer", "n": n, "top1": transfer[n - 1]}]
    return pd.DataFrame(rows).assign(images_per_class=pd.NA)


def test_transfer_drop_is_paired_within_split_seed_and_half():
    nets = pd.concat([_nets("random0", 0, "B", 0.9, [0.9] * 7, [0.9 - 0.01 * n for n in range(1, 8)]),
                      _nets("random1", 0, "B", 0.7, [0.7] * 7, [0.7 - 0.03 * n for n in range(1, 8)])])
    drops = transfer_drop_units(nets).set_index(["split", "n"])["value"]
    assert drops[("random0", 7)] == pytest.approx(-0.07) and drops[("random1", 7)] == pytest.approx(-0.21)


def test_a_measure_that_follows_the_drop_ranks_the_layers_right():
    drop = [-0.01 * n ** 2 for n in range(1, 8)]
    nets = pd.concat([_nets("random0", 0, "B", 0.9, [0.9] * 7, [0.9 + d for d in drop]),
                      _nets("random1", 0, "A", 0.9, [0.9] * 7, [0.9 + d for d in drop])])
    similarity = pd.DataFrame({"split": "random0", "seed": 0, "pair": "baseA vs baseB", "layer": range(1, 9),
                               "cka": [1 - 0.1 * n for n in range(1, 9)]})
    probes = _probes("random0", 0, {("A", "B"): [0.9 - 0.02 * n for n in range(1, 8)], ("B", "B"): [0.9] * 7})
    measures = layer_measures(nets, similarity, probes, KINDS)
    assert measures.groupby("measure")["units"].max().to_dict() == {
        "one_minus_cka": 1, "probe_drop": 1, "transfer_drop": 2}
    correlations = rank_correlations(measures).set_index("measure")
    assert correlations.loc["one_minus_cka", "spearman_rho"] == pytest.approx(-1.0)
    assert correlations.loc["probe_drop", "spearman_rho"] == pytest.approx(1.0)
    assert (correlations["layers"] == 7).all()


def test_filter_mosaic_keeps_zero_grey_and_each_filters_sign():
    weights = np.zeros((4, 3, 2, 2))
    weights[0, 0, 0, 0], weights[1, 2, 1, 1] = 0.2, -5.0
    mosaic = filter_mosaic(weights)
    assert mosaic.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    assert mosaic[1, 1, 0] == 1.0 and mosaic[1, 1, 1] == 0.5  # filter 0: its peak at full red, zero grey
    assert mosaic[1 + 1, 4 + 1, 2] == 0.0  # filter 1: its negative peak at no blue


def test_the_rank_correlation_p_value_is_exact_for_few_layers():
    """A perfect order of 4 layers is one of 2 in 24 orders as extreme: p = 1/12, not scipy's asymptotic 0."""
    from transferability.measures import spearman
    rho, p = spearman(np.array([0.1, 0.2, 0.3, 0.4]), np.array([-0.01, -0.02, -0.05, -0.09]))
    assert rho == -1 and p == pytest.approx(2 / 24)
    rho, p = spearman(np.arange(7.0), np.arange(7.0) ** 2)
    assert rho == 1 and p == pytest.approx(2 / 5040)


def test_the_layer_measures_figure_draws_the_tables_means_and_intervals():
    """Each panel's line and error bars are layer_measures.csv's mean and 95% interval over clusters."""
    from matplotlib.colors import to_hex

    from transferability.layer_figures import GROUP_COLOURS, layer_measures_figure
    from transferability.measures import layer_measure_units

    nets = pd.concat([_nets("random0", 0, "B", 0.9, [0.9] * 7, [0.9 - 0.01 * n for n in range(1, 8)]),
                      _nets("random1", 0, "B", 0.8, [0.8] * 7, [0.8 - 0.03 * n for n in range(1, 8)]),
                      _nets("random2", 0, "B", 0.8, [0.8] * 7, [0.8 - 0.02 * n for n in range(1, 8)])])
    kinds = {"random0": "random", "random1": "random", "random2": "random"}
    table = layer_measures(nets, None, None, kinds)
    fig = layer_measures_figure(layer_measure_units(nets, None, None, kinds), rank_correlations(table))
    ax = fig.axes[0]
    line = [line for line in ax.lines if to_hex(line.get_color()) == GROUP_COLOURS[0] and line.get_marker() == "o"][0]
    assert line.get_ydata() == pytest.approx(table["mean"].to_numpy())
    bars = [c for c in ax.collections if len(c.get_segments())][0].get_segments()  # one vertical bar per n
    assert [s[:, 1].min() for s in bars] == pytest.approx(table["ci95_low"].to_numpy())
    assert [s[:, 1].max() for s in bars] == pytest.approx(table["ci95_high"].to_numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random (3 clusters)"]
