"""Training curves: validation top-1 after each epoch by treatment and n, drawn with seaborn from each
cluster's values (analysis.training_curve_units of the collected epochs.csv of every net): the mean and
95% t interval over clusters that training_curves.csv reports.

Whether the nets had finished learning matters for the findings (see analysis.training_bias): a curve
still rising at its last epoch means nets started from trained layers got more training than their base."""

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from . import analysis, plots


def _group(units: pd.DataFrame):
    """The rows drawn: the random splits pooled where the run has them, else the first split (and its
    first target half); with a title saying which."""
    if (units["group"] == "random").any():
        return units[units["group"] == "random"], "random splits (their target halves pooled)"
    group = sorted(units["group"])[0]
    rows = units[units["group"] == group]
    target = sorted(rows["target"])[0]
    return rows[rows["target"] == target], f"split {group}" + (f", target half {target}" if target else "")


def training_curves_figure(epochs: pd.DataFrame, context=None) -> Figure:
    """One panel per treatment (in plots.STYLE's order), one line per n with its 95% t interval over
    clusters (the base nets at n = 0 in every panel, dotted, for reference), x = epoch."""
    units = analysis.training_curve_units(epochs)
    shown, where = _group(units) if len(units) else (units, "")
    treatments = [t for t in plots.STYLE if t != "base" and (shown["treatment"] == t).any()] or ["base"]
    layers = sorted(shown.loc[shown["treatment"] != "base", "n"].unique())
    palette = {"base (n = 0)": "black", **dict(zip([f"n = {n}" for n in layers],
                                                   sns.color_palette("viridis", max(1, len(layers)))))}
    shown = shown.assign(line=np.where(shown["treatment"] == "base", "base (n = 0)", "n = " + shown["n"].astype(str)))
    with plots.style():
        columns = min(3, len(treatments))
        rows_of_panels = -(-len(treatments) // columns)
        fig = Figure(figsize=(4.2 * columns + 1.6, 3.4 * rows_of_panels + 0.8), layout="constrained")
        axes = fig.subplots(rows_of_panels, columns, sharex=True, sharey=True, squeeze=False).ravel()
        for ax, treatment in zip(axes, treatments):
            _panel(ax, shown[shown["treatment"].isin(["base", treatment])], palette)
            ax.set_title(plots.STYLE[treatment]["label"])
        for ax in axes[len(treatments):]:
            ax.set_visible(False)
        if shown.empty:
            plots.not_run(axes[0], "training curves")
        plots.legend_beside(axes[columns - 1], palette)
        clusters = plots.cluster_count(shown)
        plots.titled(fig, context, f"{where}, {plots.INTERVAL} over {clusters} clusters (split x seed)")
    return fig


def _panel(ax, rows, palette):
    order = [line for line in palette if (rows["line"] == line).any()]
    if order:
        sns.lineplot(data=rows, x="epoch", y="val_top1", hue="line", hue_order=order, palette=palette,
                     style="line", style_order=order, dashes={line: (1, 2) if line.startswith("base") else ""
                                                               for line in order},
                     marker="o", markersize=4, errorbar=analysis.t_interval, err_kws=plots.BAND, legend=False, ax=ax)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_tick_params(labelbottom=True)  # also above a hidden panel
    ax.set_ylabel(f"validation top-1 ({plots.INTERVAL})")
