"""Tests of the comparison of runs (transferability.compare, `python -m transferability compare`): each
run's rows as its effects.csv shows them, differences with Welch intervals checked against scipy, no
interval from one unit, the table and figure written, clear errors."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from scipy import stats
from test_analysis import grid, simulate
from test_plots import written_tables

from transferability import analysis, cli, compare, tables

LAYERS = [1, 2]


def run_folder(folder, splits, seed, shift=0.0):
    """A run folder as the workflow leaves it (tables/ with the summarize command's tables) of random
    splits `splits` (both directions), one seed; its transfer nets `shift` above pure noise."""
    template = grid(splits, ["AB", "BA"], LAYERS, dissimilar_directions=[])
    nets = simulate(template, 1, seed, shift=lambda t: np.where(t["treatment"] == "transfer", shift, 0.0))
    (folder / "tables").mkdir(parents=True)
    written_tables(nets.assign(dataset="data"), folder / "tables")
    return folder


@pytest.fixture
def runs(tmp_path):
    """Two independent runs (other splits, other noise) of three and two random splits; the second's
    transfer nets are 0.05 better."""
    return [run_folder(tmp_path / "lr0.01", [0, 1, 2], seed=1),
            run_folder(tmp_path / "lr0.02", [3, 4], seed=2, shift=0.05)]


def test_each_run_shows_its_effects_table_and_its_difference_from_the_first(runs):
    table = compare.compare_runs(compare.read_runs(runs))
    key = dict(effect="transfer_drop", split="random", target="", n=2)
    rows = table[np.logical_and.reduce([table[k] == v for k, v in key.items()])].set_index("run")
    assert list(rows.index) == ["lr0.01", "lr0.02"]  # the reference first
    for run, folder in zip(rows.index, runs):
        written = tables.read_table(folder / "tables/effects.csv")
        mine = written[np.logical_and.reduce([written[k] == v for k, v in key.items()])].iloc[0]
        assert rows.loc[run, ["units", "mean", "ci95_low"]].tolist() == pytest.approx(
            mine[["units", "mean", "ci95_low"]].tolist(), abs=1e-4)
    assert rows.loc["lr0.01", ["difference", "diff_ci95_low"]].isna().all(), "the reference has no difference"
    assert rows.loc["lr0.02", "units"] == 2 and rows.loc["lr0.01", "units"] == 3  # clusters: splits, halves averaged
    units = {run: analysis.effect_samples(tables.read_table(f / "tables/unit_effects.csv")) for run, f in
             zip(rows.index, runs)}
    a, b = (u.loc[(u["effect"] == "transfer_drop") & (u["n"] == 2) & (u["target"] == ""), "diff"]
            for u in units.values())
    scipy_says = stats.ttest_ind(b, a, equal_var=False)
    interval = scipy_says.confidence_interval(0.95)
    assert rows.loc["lr0.02", "difference"] == pytest.approx(b.mean() - a.mean())
    assert rows.loc["lr0.02", ["diff_ci95_low", "diff_ci95_high"]].tolist() == pytest.approx(
        [interval.low, interval.high])
    assert rows.loc["lr0.02", "welch_df"] == pytest.approx(scipy_says.df)
    assert rows.loc["lr0.02", "diff_ci95_low"] > 0, "0.05 better with noise 0.01: the interval excludes 0"


def test_a_run_with_one_unit_gives_a_difference_without_interval(tmp_path):
    one = run_folder(tmp_path / "one", [0], seed=3)  # one split, two halves: one unit per half...
    units = tables.read_table(one / "tables/unit_effects.csv")
    tables.write_csv(units[units["target"] == "B"], one / "tables/unit_effects.csv")  # ...one direction only
    table = compare.compare_runs(compare.read_runs([run_folder(tmp_path / "many", [0, 1], seed=4), one]))
    theirs = table[table["run"] == "one"]
    assert (theirs["units"] == 1).all() and theirs["difference"].notna().all()
    assert theirs[["ci95_low", "diff_ci95_low", "diff_ci95_high", "welch_df"]].isna().all().all()


def test_the_command_writes_table_and_figure(runs, tmp_path, capsys):
    out = tmp_path / "compared"
    assert cli.main(["compare", *map(str, runs), "--out", str(out), "--dpi", "50"]) == 0
    assert tables.read_table(out / "comparison.csv")["run"].unique().tolist() == ["lr0.01", "lr0.02"]
    assert (out / "comparison.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "comparison.pdf").read_bytes().startswith(b"%PDF")
    assert "2 runs; differences from lr0.01" in capsys.readouterr().out
    units_csv = runs[1] / "tables/unit_effects.csv"  # a data set only the second run has sorts first
    units = tables.read_table(units_csv)
    tables.write_csv(pd.concat([units.assign(dataset="a_first"), units]), units_csv)
    assert cli.main(["compare", *map(str, runs), "--out", str(out), "--dpi", "50"]) == 0
    assert "differences from lr0.01" in capsys.readouterr().out


def test_the_figure_draws_each_run_and_each_difference(runs):
    """Top: each run's means and 95% intervals are comparison.csv's; bottom: the second run's difference."""
    units_by_run = compare.read_runs(runs)
    table = compare.compare_runs(units_by_run)
    fig = compare.comparison_figure(table, units_by_run)
    top, bottom = fig.axes[0], fig.axes[len(fig.axes) // 2]
    assert top.get_title() == "co adaptation"
    rows = table[(table["effect"] == "co_adaptation") & (table["target"] == "")]
    for run, colour in zip(["lr0.01", "lr0.02"], compare.RUN_COLOURS):
        mine = rows[rows["run"] == run].sort_values("n")
        means = [line for line in top.lines if to_hex(line.get_color()) == to_hex(colour)
                 and len(line.get_xdata()) == len(mine)][0]
        assert means.get_ydata() == pytest.approx(mine["mean"].to_numpy(), abs=6e-5)
        bars = [c for c in top.containers if to_hex(c.lines[2][0].get_color()[0]) == to_hex(colour)][0]
        segments = bars.lines[2][0].get_segments()  # one vertical bar per n
        assert [s[:, 1].min() for s in segments] == pytest.approx(mine["ci95_low"].to_numpy(), abs=6e-5)
        assert [s[:, 1].max() for s in segments] == pytest.approx(mine["ci95_high"].to_numpy(), abs=6e-5)
    second = [line for line in top.lines if to_hex(line.get_color()) == to_hex(compare.RUN_COLOURS[1])][0]
    assert bottom.containers[0].lines[0].get_xdata() == pytest.approx(second.get_xdata())  # the same x in both rows
    assert len(bottom.containers) == 1  # one difference: the second run's


def test_clear_errors(runs, tmp_path, capsys):
    assert cli.main(["compare", str(runs[0]), str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 1
    assert "nowhere: no tables/unit_effects.csv" in capsys.readouterr().err
    assert cli.main(["compare", str(runs[0]), "--out", str(tmp_path / "o")]) == 1
    assert "needs two run folders or more" in capsys.readouterr().err
    same_names = [runs[0], runs[0] / ".." / runs[0].name]
    assert compare.run_names(same_names) == [str(p) for p in same_names]
    assert compare.run_tables(runs[0]) == runs[0] / "tables"
    assert compare.run_tables(runs[0] / "tables") == runs[0] / "tables"  # a tables folder itself is accepted


def test_runs_with_no_row_in_common_are_a_clear_error(tmp_path):
    """Two data sets share no row: the comparison was an empty lower panel, reported as a success."""
    other = run_folder(tmp_path / "other", [0, 1], seed=3)
    units = tables.read_table(other / "tables/unit_effects.csv")
    tables.write_csv(units.assign(dataset="cifar10"), other / "tables/unit_effects.csv")
    with pytest.raises(ValueError, match="run other has no row in common with the reference run ref"):
        compare.compare_runs(compare.read_runs([run_folder(tmp_path / "ref", [0, 1], seed=1), other]))
