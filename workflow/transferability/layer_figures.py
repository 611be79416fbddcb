"""Figures of what the layers learned: the first-layer filter atlas, and the transfer drop per layer beside
the cheap measures that might predict it. Built without pyplot, inside an rc_context (as plots.py)."""

import math

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from . import analysis, plots
from .measures import CHEAP_MEASURES, MEASURES

RC = {"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9, "axes.spines.top": False,
      "axes.spines.right": False}
YLABELS = {"transfer_drop": "top-1 difference", "one_minus_cka": "1 - linear CKA",
           "probe_drop": "probe top-1 difference"}
GROUP_COLOURS = ["#a01010", "#1a3a8f", "#2b8a3e", "#e08214", "#7b3294"]


def filter_mosaic(weights: np.ndarray, columns: int | None = None) -> np.ndarray:
    """conv1 weights (filters, channels, k, k) as one image (H, W, channels) in [0, 1] with a 1-pixel
    white border between filters. Each filter is scaled by its own largest |weight| around grey (0.5),
    so weak and strong filters are equally visible and zero is always the same grey."""
    count, channels, k, _ = weights.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    mosaic = np.ones((rows * (k + 1) + 1, columns * (k + 1) + 1, channels))
    peak = np.abs(weights).reshape(count, -1).max(1)
    scaled = 0.5 + 0.5 * weights / np.where(peak > 0, peak, 1)[:, None, None, None]
    for i, filt in enumerate(scaled):
        top, left = 1 + (i // columns) * (k + 1), 1 + (i % columns) * (k + 1)
        mosaic[top:top + k, left:left + k] = filt.transpose(1, 2, 0)
    return mosaic


def first_layer_filters(weights: list, seed: int, model: dict) -> dict:
    """The atlas's panels: conv1's weights of baseA and baseB (their weights files, in that order) and of
    baseA's own starting point, built as its training job built it (the same seed and code path)."""
    from safetensors.torch import load_file

    from .train import build_net

    state = {name: load_file(path) for name, path in zip(("baseA", "baseB"), weights)}
    in_channels, n_classes = state["baseA"]["conv1.0.weight"].shape[1], state["baseA"]["fc8.0.weight"].shape[0]
    _, start = build_net({"net": "baseA", "seed": seed, "model": model}, in_channels, n_classes)
    return {"baseA": state["baseA"]["conv1.0.weight"].numpy(), "baseB": state["baseB"]["conv1.0.weight"].numpy(),
            "random init (baseA before training)": start.conv1[0].weight.detach().numpy()}


def filter_atlas(panels: dict, subtitle: str = "") -> Figure:
    """One panel per net ({title: conv1 weights}): colour for 3-channel nets, grey for 1-channel ones."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3.4 * len(panels), 3.8), layout="constrained")
        for ax, (title, weights) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
            mosaic = filter_mosaic(np.asarray(weights, dtype=np.float64))
            if mosaic.shape[2] == 1:
                ax.imshow(mosaic[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(mosaic[:, :, :3], interpolation="nearest")
            ax.set_title(title)
            ax.set_axis_off()
        fig.suptitle("First-layer (conv1) filters" + (f"\n{subtitle}" if subtitle else ""))
    return fig


def layer_measures_figure(units: pd.DataFrame, correlations: pd.DataFrame) -> Figure:
    """Per layer n: the transfer drop of the trained nets, 1 - CKA(baseA, baseB) and the probe drop, one
    colour per group (random splits pooled, each explicit split), each cluster's values (measures.
    layer_measure_units) drawn by seaborn as the mean and 95% t interval that layer_measures.csv reports
    (none for one cluster); each cheap panel states its Spearman correlation with the transfer drop."""
    present = [m for m in MEASURES if m in set(units["measure"])]
    groups = sorted(units["group"].unique(), key=lambda g: (g != "random", g))
    counts = units.groupby("group")[["split", "seed"]].apply(lambda g: len(g.drop_duplicates()))
    names = {g: f"{g} ({counts[g]} cluster{'s' if counts[g] > 1 else ''})" for g in groups}
    palette = dict(zip(names.values(), GROUP_COLOURS * 4))
    with plots.style():
        fig = Figure(figsize=(4.4 * max(1, len(present)) + 2, 4.6), layout="constrained")
        axes = fig.subplots(1, max(1, len(present)), squeeze=False)[0]
        for ax, measure in zip(axes, present):
            rows = units[units["measure"] == measure]
            sns.lineplot(data=rows.assign(group=rows["group"].map(names)), x="n", y="value", hue="group",
                         hue_order=[names[g] for g in groups if (rows["group"] == g).any()], palette=palette,
                         marker="o", errorbar=analysis.t_interval, err_style="bars", err_kws={"capsize": 3},
                         legend=False, ax=ax)
            ax.set_title(MEASURES[measure], fontsize=9)
            ax.set_ylabel(f"{YLABELS[measure]} ({plots.INTERVAL})")
            xlabel = "Layer n"
            if measure in CHEAP_MEASURES:  # below the axes, where it covers no data
                xlabel += "\n" + _correlation_text(correlations, measure)
            ax.set_xlabel(xlabel, fontsize=9)
            ax.set_xticks(range(1, 8))
            ax.axhline(0, color="grey", linewidth=0.6)
        plots.legend_beside(axes[-1], palette)
        fig.suptitle("Do cheap measures rank the layers as the transfer drop does?")
    return fig


def _correlation_text(correlations: pd.DataFrame, measure: str) -> str:
    rows = correlations[correlations["measure"] == measure]
    lines = []
    for row in rows.itertuples():
        p_value = "p < 0.001" if row.p_value < 0.001 else f"p = {row.p_value:.3f}"
        rho = "undefined" if pd.isna(row.spearman_rho) else f"{row.spearman_rho:+.2f} ({p_value})"
        lines.append(f"{row.group}: Spearman rho with the transfer drop\n{rho}, over {row.layers} layers")
    return "\n".join(lines) or "no transfer drop to compare with"
