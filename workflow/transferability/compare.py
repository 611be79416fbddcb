"""Runs side by side: each run's effects per n, and each run's difference from the first run (the
reference) with a Welch t interval, as a table and a figure.

A run is a folder holding `tables/unit_effects.csv` (what the summarize command writes: each effect in
each unit, see analysis). Its rows of effects.csv are recomputed here from those unit values with
analysis.effects_table, so a run's mean and interval are the ones its effects.csv shows.

Statistics: runs are taken as independent samples of units. The difference of two runs' mean effects
has standard error sqrt(s1²/n1 + s2²/n2) and a 95% t interval with the Welch-Satterthwaite df; a run
with a single unit in a row has no spread, so that row's difference has no interval (empty, never 0).
Each row's interval is for that row alone, not corrected for the many rows compared. Two runs that share
splits and seeds (e.g. one config with another learning rate) have paired units; Welch ignores that
pairing, which costs power but not validity as long as the runs' errors are not negatively correlated."""

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy import stats

from . import analysis, plots, tables

COLUMNS = ["dataset", "split_kind", "split", "target", "effect", "n", "run", "units", "mean", "ci95_low", "ci95_high",
           "reference", "difference", "diff_ci95_low", "diff_ci95_high", "welch_df"]
KEYS = ["dataset", "split_kind", "split", "target", "effect", "n"]
RUN_COLOURS = ["black", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]  # the reference first


def run_tables(run_dir) -> Path:
    """The tables folder of a run folder (RUN/tables, or RUN itself if it holds the tables)."""
    run_dir = Path(run_dir)
    for folder in (run_dir / "tables", run_dir):
        if (folder / "unit_effects.csv").is_file():
            return folder
    raise FileNotFoundError(f"{run_dir}: no tables/unit_effects.csv (a run folder has one once its summarize "
                            "job ran; a run made before that table existed writes it when `snakemake` runs again)")


def run_names(run_dirs) -> list[str]:
    """Each run by its folder's name, or by the path given where two folders share a name."""
    names = [Path(d).resolve().name for d in run_dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in run_dirs]


def read_runs(run_dirs) -> dict:
    """run name -> its unit_effects table, in the order given (the first is the reference)."""
    if len(run_dirs) < 2:
        raise ValueError("compare needs two run folders or more")
    return {name: tables.read_table(run_tables(d) / "unit_effects.csv")
            for name, d in zip(run_names(run_dirs), run_dirs)}


def _moments(units: pd.DataFrame) -> pd.DataFrame:
    """Units, mean and variance of each effects.csv row's unit values, by KEYS."""
    samples = analysis.effect_samples(units).rename(columns={"split": "unit_split", "group": "split"})
    return samples.groupby(KEYS)["diff"].agg(units="size", mean="mean", var="var")


def welch(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """mean(b) - mean(a) with its Welch 95% t interval, from each side's units, mean and var (rows
    aligned by index); NaN interval where a side has one unit."""
    va, vb = a["var"] / a["units"], b["var"] / b["units"]
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a["units"] - 1) + vb**2 / (b["units"] - 1))
    df = df.where((a["units"] >= 2) & (b["units"] >= 2))
    difference = b["mean"] - a["mean"]
    half_width = stats.t.ppf(0.975, df) * se
    return pd.DataFrame({"difference": difference, "diff_ci95_low": difference - half_width,
                         "diff_ci95_high": difference + half_width, "welch_df": df})


def compare_runs(units_by_run: dict) -> pd.DataFrame:
    """Every run's effects.csv rows (units, mean, 95% interval) and, for each row the first run also has,
    the run's difference from it (see welch). One row per run and effects.csv row."""
    reference, *_ = units_by_run
    ref_moments = _moments(units_by_run[reference])
    rows = []
    for run, units in units_by_run.items():
        summary = analysis.effects_table(units).set_index(KEYS)[["units", "mean", "ci95_low", "ci95_high"]]
        moments = _moments(units)
        both = moments.index.intersection(ref_moments.index) if run != reference else moments.index[:0]
        if run != reference and both.empty:
            raise ValueError(f"run {run} has no row in common with the reference run {reference} (same data set, "
                             f"split, target, effect and n): runs are compared row by row, on the same data set")
        differences = welch(ref_moments.loc[both], moments.loc[both]).assign(reference=reference)
        rows.append(summary.join(differences).assign(run=run).reset_index())
    table = pd.concat(rows, ignore_index=True).reindex(columns=COLUMNS)
    order = {run: i for i, run in enumerate(units_by_run)}
    return table.sort_values(KEYS + ["run"], key=lambda c: c.map(order) if c.name == "run" else c,
                             ignore_index=True)


def _panel_rows(table, effect):
    """The rows a panel draws: one effect, both directions pooled, on the random splits (or the whole
    task, where the controls ran there)."""
    return table[(table["effect"] == effect) & (table["target"] == "")
                 & table["split_kind"].isin(["random", "unsplit"])]


def _welch_bars(ax, rows, x_offset, colour, label):
    """Each run's difference from the reference with its Welch interval, from the table: a two-sample
    interval that seaborn's one-sample errorbar cannot compute from the units."""
    rows = rows.sort_values("n")
    err = np.vstack([rows["difference"] - rows["diff_ci95_low"], rows["diff_ci95_high"] - rows["difference"]])
    ax.errorbar(rows["n"] + x_offset, rows["difference"], yerr=np.nan_to_num(err), color=colour, marker="o",
                markersize=4, capsize=2, linewidth=1.2, label=label)


def _run_samples(units_by_run: dict, effect: str) -> pd.DataFrame:
    """Each run's cluster values of one effect as a panel draws them (see _panel_rows), with the run."""
    samples = [analysis.effect_samples(units).assign(run=run) for run, units in units_by_run.items()]
    samples = pd.concat(samples, ignore_index=True)
    return _panel_rows(samples, effect)


def comparison_figure(table: pd.DataFrame, units_by_run: dict) -> Figure:
    """Top: each run's mean effect per n with its 95% t interval over clusters (seaborn, from each run's
    unit values: comparison.csv's mean and interval); bottom: each run minus the reference with its Welch
    95% interval (no bar where a side has one unit). One column per effect."""
    runs = list(dict.fromkeys(table["run"]))
    palette = {run: RUN_COLOURS[i % len(RUN_COLOURS)] for i, run in enumerate(runs)}
    offset = {run: 0.1 * (i - (len(runs) - 1) / 2) for i, run in enumerate(runs)}  # each run's x beside n, both rows
    effects = [e for e in analysis.EFFECTS if len(_panel_rows(table, e))]
    with plots.style():
        fig = Figure(figsize=(3.6 * max(1, len(effects)) + 2.5, 6.8), layout="constrained")
        axes = fig.subplots(2, max(1, len(effects)), sharex=True, squeeze=False)
        for column, effect in enumerate(effects):
            samples = _run_samples(units_by_run, effect)
            sns.lineplot(data=samples.assign(x=samples["n"] + samples["run"].map(offset)), x="x", y="diff",
                         hue="run", hue_order=runs, palette=palette, marker="o", markersize=5, linewidth=1.2,
                         errorbar=analysis.t_interval, err_style="bars", err_kws={"capsize": 3}, legend=False,
                         ax=axes[0, column])
            rows = _panel_rows(table, effect)
            for run in runs[1:]:
                _welch_bars(axes[1, column], rows[(rows["run"] == run)].dropna(subset=["difference"]),
                            offset[run], palette[run], f"{run} - {runs[0]}")
            axes[0, column].set_title(effect.replace("_", " "))
            for ax in axes[:, column]:
                ax.axhline(0, color="grey", linewidth=0.8)
                ax.set_xlabel("layer n")
                ax.set_ylabel("")
            axes[1, column].xaxis.set_major_locator(MaxNLocator(integer=True))
        if not effects:
            plots.not_run(axes[0, 0], "effects on random splits")
        axes[0, 0].set_ylabel(f"effect (top-1), {plots.INTERVAL}")
        axes[1, 0].set_ylabel(f"minus {runs[0]}, Welch 95% interval")
        plots.legend_beside(axes[0, -1], palette)
        fig.suptitle(f"{len(runs)} runs, random splits pooled; clusters per run and row in comparison.csv",
                     fontsize=9, color="dimgrey")
    return fig


def write_comparison(run_dirs, out_dir, dpi=200) -> pd.DataFrame:
    """comparison.csv, comparison.png and comparison.pdf of the runs in `out_dir`."""
    units_by_run = read_runs(run_dirs)
    table = compare_runs(units_by_run)
    out_dir = Path(out_dir)
    tables.write_csv(table, out_dir / "comparison.csv", decimals=4)
    fig = comparison_figure(table, units_by_run)
    for suffix in ("png", "pdf"):
        plots.save(fig, out_dir / f"comparison.{suffix}", dpi=dpi)
    return table
