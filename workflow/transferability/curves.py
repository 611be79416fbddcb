"""Training curves: validation top-1 after each epoch by treatment and n, mean +- s.e. over units, drawn
from the table analysis.training_curves makes of the collected epochs (epochs.csv of every net).

Whether the nets had finished learning matters for the findings (see analysis.training_bias): a curve
still rising at its last epoch means nets started from trained layers got more training than their base."""

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from . import plots


def _group(curves: pd.DataFrame):
    """The rows drawn: the random splits pooled where the run has them, else the first split (and its
    first target half); with a title saying which."""
    if (curves["split"] == "random").any():
        return curves[curves["split"] == "random"], "random splits (their target halves pooled)"
    split = sorted(curves["split"])[0]
    rows = curves[curves["split"] == split]
    target = sorted(rows["target"])[0]
    return rows[rows["target"] == target], f"split {split}" + (f", target half {target}" if target else "")


def _curve(ax, rows, colour, label):
    rows = rows.sort_values("epoch")
    ax.plot(rows["epoch"], rows["mean"], color=colour, marker="o", markersize=3, linewidth=1.5, label=label)
    ax.fill_between(rows["epoch"], rows["mean"] - rows["sem"], rows["mean"] + rows["sem"], color=colour,
                    alpha=0.08, linewidth=0)  # no band for one unit (sem NaN)


def training_curves_figure(curves: pd.DataFrame, context=None) -> Figure:
    """One panel per treatment (in plots.STYLE's order), one line per n (the base nets at n = 0 in
    every panel, dotted, for reference), x = epoch."""
    shown, where = _group(curves) if len(curves) else (curves, "")
    treatments = [t for t in plots.STYLE if t != "base" and (shown["treatment"] == t).any()] or ["base"]
    layers = sorted(shown.loc[shown["treatment"] != "base", "n"].unique())
    colours = dict(zip(layers, colormaps["viridis"](np.linspace(0, 0.9, max(1, len(layers))))))
    base = shown[shown["treatment"] == "base"]
    with matplotlib.rc_context(plots.RC):
        columns = min(3, len(treatments))
        rows_of_panels = -(-len(treatments) // columns)
        fig = Figure(figsize=(4.2 * columns + 1.2, 3.4 * rows_of_panels + 0.6), layout="constrained")
        axes = fig.subplots(rows_of_panels, columns, sharex=True, sharey=True, squeeze=False).ravel()
        for ax, treatment in zip(axes, treatments):
            if len(base):
                _curve(ax, base, "black", "base (n = 0)")
                ax.lines[-1].set_linestyle(":")
            for n, rows in shown[shown["treatment"] == treatment].groupby("n"):
                _curve(ax, rows, colours[n], f"n = {n}")
            ax.set_title(plots.STYLE[treatment]["label"])
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.xaxis.set_tick_params(labelbottom=True)  # also above a hidden panel
            ax.set_ylabel("validation top-1")
        for ax in axes[len(treatments):]:
            ax.set_visible(False)
        if shown.empty:
            plots.not_run(axes[0], "training curves")
        _legend(fig, axes)
        units = int(shown["units"].max()) if len(shown) else 0
        context = context or {}
        about = [context.get("dataset"), f"{context['model']} net" if context.get("model") else None,
                 context.get("training"), where, f"mean +- s.e. over up to {units} unit(s) per line"]
        fig.suptitle(", ".join(filter(None, about)), fontsize=9, color="dimgrey")
    return fig


def _legend(fig, axes):
    """One legend for all panels: the base and every n, each once."""
    labelled = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labelled.setdefault(label, handle)
    if labelled:
        fig.legend(labelled.values(), labelled.keys(), loc="outside right upper", frameon=False)
