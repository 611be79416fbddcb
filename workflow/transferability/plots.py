"""The paper's figures, drawn from tidy tables (nets.csv rows, per_layer_table, effects_table).

Each function returns a matplotlib Figure; callers save it (PNG + PDF). Figures are built without
pyplot and inside an rc_context, so no global plotting state changes. Any `paper` argument is the
paper's own table in the same format (analysis.paper_per_layer() or, for the reduced-data curve,
analysis.paper_nets()), drawn faintly for comparison."""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import analysis
from .io import atomic_path

# treatment -> how it looks everywhere (the paper's Figure 2 code); offset spreads treatments apart at one n
STYLE = {
    "base": dict(color="black", face="white", marker="o", label="baseB", offset=0.0),
    "selffer": dict(color="#1a3a8f", face="#1a3a8f", marker="o", label="selffer BnB", offset=-0.21),
    "selffer_ft": dict(color="#6fa0e8", face="#6fa0e8", marker="+", label="selffer BnB$^+$", offset=-0.07),
    "transfer": dict(color="#a01010", face="#a01010", marker="D", label="transfer AnB", offset=0.07),
    "transfer_ft": dict(color="#f07c7c", face="#f07c7c", marker="+", label="transfer AnB$^+$", offset=0.21),
    "random_frozen": dict(color="#555555", face="#555555", marker="s", label="random frozen", offset=0.0),
}
FIGURE2_TREATMENTS = ["base", "selffer", "selffer_ft", "transfer", "transfer_ft"]
DIRECTION_COLOURS = ["#7b3294", "#e08214"]  # the two target halves of an explicit (dissimilar) split
PAPER_LINE = dict(alpha=0.3, linestyle="--", linewidth=1.5)
PAPER_LABEL = "paper (ImageNet)"
JITTER = 0.04  # half-width of the horizontal jitter that separates nets with equal n
XLABEL = "Layer n at which network is chopped and retrained"
YLABEL = "Top-1 accuracy (higher is better)"
RC = {"font.size": 11, "axes.labelsize": 11, "axes.titlesize": 12, "legend.fontsize": 9,
      "xtick.labelsize": 10, "ytick.labelsize": 10, "axes.spines.top": False, "axes.spines.right": False,
      "savefig.dpi": 200}


def _full_data(nets, split_kind=None):
    rows = nets[nets["images_per_class"].isna() & nets["top1"].notna()]
    return rows if split_kind is None else rows[rows["split_kind"] == split_kind]


def _rows(table, split_kind, treatment, target=""):
    rows = table[(table["split_kind"] == split_kind) & (table["treatment"] == treatment)
                 & (table["target"] == target)]
    return rows.sort_values("n")


def _scatter(ax, x, y, treatment, **style):
    look = {**STYLE[treatment], **style}
    if look["marker"] == "+":  # an unfilled marker: matplotlib colours it by its face colour only
        ax.scatter(x, y, marker="+", s=60, linewidths=1.8, color=look["color"], label=look["label"], zorder=3)
    else:
        ax.scatter(x, y, marker=look["marker"], s=40, linewidths=1, facecolors=look["face"],
                   edgecolors=look["color"], label=look["label"], zorder=3)


def _layer_axes(ax, ylabel=YLABEL):
    ax.set_xlabel(XLABEL)
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(8))
    ax.set_xlim(-0.5, 7.5)


def _not_run(ax, what):
    ax.text(0.5, 0.5, f"{what}: not run", transform=ax.transAxes, ha="center", va="center", color="grey")


def _legend(fig, ax, paper_drawn):
    handles, labels = ax.get_legend_handles_labels()
    if paper_drawn:
        handles.append(Line2D([], [], color="grey", **PAPER_LINE))
        labels.append(PAPER_LABEL)
    if handles:
        fig.legend(handles, labels, loc="outside right upper", frameon=False)


def _paper_means(ax, paper, split_kind="random", treatments=FIGURE2_TREATMENTS):
    """The paper's means as faint dashed lines (its base as a level across all n); True if any drawn."""
    drawn = False
    for treatment in treatments:
        rows = _rows(paper, split_kind, treatment)
        if rows.empty:
            continue
        if treatment == "base":
            ax.axhline(rows["mean"].iloc[0], color=STYLE[treatment]["color"], **PAPER_LINE)
        else:
            ax.plot(rows["n"], rows["mean"], color=STYLE[treatment]["color"], **PAPER_LINE)
        drawn = True
    return drawn


def figure2_top(nets, paper=None):
    """One marker per trained net of the random splits, x = n (treatments side by side, jittered)."""
    nets = _full_data(nets, "random")
    rng = np.random.default_rng(0)  # fixed jitter: the same figure on every run
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for treatment in FIGURE2_TREATMENTS:
            rows = nets[nets["treatment"] == treatment]
            if len(rows):
                jitter = rng.uniform(-JITTER, JITTER, len(rows))
                _scatter(ax, rows["n"] + STYLE[treatment]["offset"] + jitter, rows["top1"], treatment)
        if nets.empty:
            _not_run(ax, "random-split nets")
        paper_drawn = paper is not None and _paper_means(ax, paper)
        _layer_axes(ax)
        _legend(fig, ax, paper_drawn)
    return fig


def _mean_line(ax, rows, base, treatment, sem):
    """Means of one treatment from the base level at n = 0, with a +-sem band."""
    look = STYLE[treatment]
    ax.plot([0, *rows["n"]], [base, *rows["mean"]], color=look["color"], marker=look["marker"],
            markerfacecolor=look["face"], markersize=5, linewidth=2, label=look["label"])
    ax.fill_between(rows["n"], rows["mean"] - sem, rows["mean"] + sem, color=look["color"], alpha=0.15, linewidth=0)


# treatment -> its effect against the base net (figure 2's bands show the spread of that difference)
AGAINST_BASE = {"selffer": "co_adaptation", "selffer_ft": "fine_tune_recovery", "transfer": "transfer_drop",
                "transfer_ft": "boost"}


def _band(effects, rows, treatment):
    """The sem of the treatment's paired difference from its base net, per n; the treatment's own sem
    where that effect is missing."""
    paired = _effect_curve(effects, AGAINST_BASE[treatment], "random")["sem"]
    return rows["n"].map(paired).fillna(rows["sem"]).to_numpy()


# finding -> (lower curve, upper curve, text position in axes fraction, hatch, label); the region
# between the two curves is shaded and labelled with an arrow when both were run
REGIONS = {
    "2": ("selffer", "base", (0.03, 0.13), "//", "2: performance drop due to\nfragile co-adaptation"),
    "4": ("transfer", "selffer", (0.03, 0.02), "\\\\",
          "4: performance drop due to\nrepresentation specificity"),
    "3": ("selffer", "selffer_ft", (0.03, 0.89), None, "3: fine-tuning recovers co-adapted interactions"),
    "5": ("base", "transfer_ft", (0.03, 0.98), None, "5: transfer + fine-tuning improves generalization"),
}


def _shade_regions(ax, means):
    """Shade and label the region between two treatments' means (treatment -> Series by n)."""
    for finding, (lower, upper, text_at, hatch, label) in REGIONS.items():
        if lower not in means or upper not in means:
            continue
        n = means[lower].index.intersection(means[upper].index)
        low, high = means[lower][n], means[upper][n]
        if n.empty or (high - low).max() <= 0:  # the effect is absent: no region to label
            continue
        colour = STYLE["transfer" if finding in ("4", "5") else "selffer"]["color"]
        ax.fill_between(n, low, high, where=low <= high, interpolate=True,
                        color=colour, alpha=0.08, hatch=hatch, linewidth=0)
        widest = (high - low).idxmax()
        ax.annotate(label, xy=(widest, (low[widest] + high[widest]) / 2), xytext=text_at,
                    textcoords="axes fraction", fontsize=9, va="top" if text_at[1] > 0.5 else "bottom",
                    color=colour, arrowprops=dict(arrowstyle="->", color=colour, lw=0.8))


def figure2_bottom(per_layer, effects, paper=None):
    """Mean top-1 per treatment and n (random splits), the regions between them labelled with the
    paper's findings 2-5. Bands: +-sem of each treatment's difference from the base (from `effects`,
    paired where they come from analysis.paired_effects), which leaves the halves' levels out."""
    base = _rows(per_layer, "random", "base")
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.add_subplot()
        paper_drawn = paper is not None and _paper_means(ax, paper)
        if base.empty:
            _not_run(ax, "random-split base nets")
        else:
            level = base["mean"].iloc[0]
            _scatter(ax, [0], [level], "base")
            means = {}
            for treatment in FIGURE2_TREATMENTS[1:]:
                rows = _rows(per_layer, "random", treatment)
                if len(rows):
                    _mean_line(ax, rows, level, treatment, _band(effects, rows, treatment))
                    means[treatment] = rows.set_index("n")["mean"]
            layers = sorted(set().union(*(m.index for m in means.values())))
            means["base"] = pd.Series(level, index=layers)
            ax.axhline(level, color="black", linestyle=":", linewidth=1)
            _shade_regions(ax, means)
            _pad_for_labels(ax)
        _layer_axes(ax)
        _legend(fig, ax, paper_drawn)
    return fig


def _pad_for_labels(ax):
    """Free the top and bottom of the axes for the region labels, whatever the accuracy scale."""
    low, high = ax.get_ylim()
    span = high - low
    ax.set_ylim(low - 0.55 * span, high + 0.35 * span)


# effect, split_kind (None: mean over every split_kind that has it), label, colour, marker
DIFFERENCE_CURVES = [
    ("transfer_drop", "random", "transfer AnB - baseB (random halves)", STYLE["transfer"]["color"], "D"),
    ("transfer_drop", "explicit", "transfer - base, dissimilar halves (mean of directions)",
     DIRECTION_COLOURS[0], "D"),
    ("random_frozen_drop", None, "random frozen - its base", STYLE["random_frozen"]["color"], "s"),
]


def figure3(nets, per_layer, paper=None):
    """Top left: dissimilar halves per target half; top right: random frozen layers; bottom: each
    treatment's top-1 minus its own base. Panels without data say "not run"."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(11, 8.5), layout="constrained")
        grid = fig.add_gridspec(2, 2)
        _dissimilar_panel(fig.add_subplot(grid[0, 0]), nets, per_layer)
        _random_frozen_panel(fig.add_subplot(grid[0, 1]), nets)
        _differences_panel(fig.add_subplot(grid[1, :]), nets, paper)
    return fig


def _jittered(rows, rng):
    return rows["n"] + rng.uniform(-JITTER, JITTER, len(rows))


def _dissimilar_panel(ax, nets, per_layer):
    explicit = _full_data(nets, "explicit")
    targets = sorted(explicit.loc[explicit["treatment"] == "transfer", "target"].unique())
    rng = np.random.default_rng(0)
    for colour, target in zip(DIRECTION_COLOURS, targets):
        bases = explicit[(explicit["treatment"] == "base") & (explicit["target"] == target)]
        transfers = explicit[(explicit["treatment"] == "transfer") & (explicit["target"] == target)]
        ax.scatter(_jittered(bases, rng), bases["top1"], marker="o", facecolors="white", edgecolors=colour,
                   zorder=3)
        ax.scatter(_jittered(transfers, rng), transfers["top1"], marker="D", color=colour, s=25, zorder=3,
                   label=f"transfer to half {target} (base at n = 0)")
        means = _rows(per_layer, "explicit", "transfer", target)
        base_mean = _rows(per_layer, "explicit", "base", target)["mean"]
        ax.plot([*[0] * len(base_mean), *means["n"]], [*base_mean, *means["mean"]], color=colour, alpha=0.7)
    if targets:
        ax.legend(loc="lower left", frameon=False)
    else:
        _not_run(ax, "explicit (dissimilar) split")
    ax.set_title("Dissimilar halves")
    _layer_axes(ax)


def _random_frozen_panel(ax, nets):
    full = _full_data(nets)
    frozen = full[full["treatment"] == "random_frozen"]
    bases = full[(full["treatment"] == "base") & full["split_kind"].isin(frozen["split_kind"].unique())]
    if frozen.empty:
        _not_run(ax, "random frozen layers")
    else:
        rng = np.random.default_rng(0)
        _scatter(ax, _jittered(bases, rng), bases["top1"], "base", label="base")
        _scatter(ax, _jittered(frozen, rng), frozen["top1"], "random_frozen")
        means = frozen.groupby("n")["top1"].mean()
        ax.plot([0, *means.index], [bases["top1"].mean(), *means], color=STYLE["random_frozen"]["color"],
                alpha=0.7)
        ax.legend(loc="lower left", frameon=False)
    ax.set_title("Random frozen first n layers")
    _layer_axes(ax)


def _effect_curve(effects, effect, split_kind):
    rows = effects[(effects["effect"] == effect) & (effects["target"] == "")]
    if split_kind is not None:
        rows = rows[rows["split_kind"] == split_kind]
    return rows.groupby("n")[["value", "sem"]].mean()


def _differences_panel(ax, nets, paper):
    effects = analysis.paired_effects(nets)  # paired: the spread leaves out the halves' levels
    paper_effects = analysis.effects_table(paper) if paper is not None else None
    drawn = paper_drawn = False
    for effect, split_kind, label, colour, marker in DIFFERENCE_CURVES:
        curve = _effect_curve(effects, effect, split_kind)
        if len(curve):
            ax.plot([0, *curve.index], [0, *curve["value"]], color=colour, marker=marker, markersize=5,
                    linewidth=2, label=label)
            ax.fill_between(curve.index, curve["value"] - curve["sem"], curve["value"] + curve["sem"],
                            color=colour, alpha=0.15, linewidth=0)
            drawn = True
        theirs = _effect_curve(paper_effects, effect, split_kind) if paper is not None else []
        if len(theirs):
            ax.plot([0, *theirs.index], [0, *theirs["value"]], color=colour, **PAPER_LINE)
            paper_drawn = True
    if not drawn:
        _not_run(ax, "all treatments")
    ax.axhline(0, color="black", linewidth=0.8)
    handles, labels = ax.get_legend_handles_labels()
    if paper_drawn:
        handles.append(Line2D([], [], color="grey", **PAPER_LINE))
        labels.append(PAPER_LABEL)
    if handles:
        ax.legend(handles, labels, loc="lower left", frameon=False)
    ax.set_title("Top-1 relative to each treatment's own base")
    _layer_axes(ax, "Relative top-1 accuracy (higher is better)")


def reduced_data_curve(nets, paper=None):
    """Top-1 of base nets trained on fewer images per class (rows with images_per_class set)."""
    reduced = nets[nets["images_per_class"].notna() & nets["top1"].notna()]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
        if reduced.empty:
            _not_run(ax, "reduced-data nets")
        else:
            ax.scatter(reduced["images_per_class"], reduced["top1"], color="grey", s=15, label="one net")
            stats = reduced.groupby("images_per_class")["top1"].agg(["mean", "sem"]).fillna(0.0)
            ax.plot(stats.index, stats["mean"], color="black", marker="o", markerfacecolor="white",
                    label="mean over seeds")
            ax.fill_between(stats.index, stats["mean"] - stats["sem"], stats["mean"] + stats["sem"],
                            color="black", alpha=0.12, linewidth=0)
            full = _full_data(nets)
            full = full[(full["treatment"] == "base") & full["split_kind"].isin(set(reduced["split_kind"]))]
            if len(full):
                ax.axhline(full["top1"].mean(), color="black", linestyle=":", label="base, full training set")
        theirs = paper[paper["images_per_class"].notna()] if paper is not None else []
        if len(theirs):
            means = theirs.groupby("images_per_class")["top1"].mean()
            ax.plot(means.index, means, color="grey", marker="o", label=f"{PAPER_LABEL}, 1000 classes",
                    **PAPER_LINE)
        if len(reduced) or len(theirs):
            ax.set_xscale("log")
        _legend(fig, ax, paper_drawn=False)  # the paper's line carries its own label here
        ax.set_xlabel("Training images per class (log scale)")
        ax.set_ylabel(YLABEL)
    return fig


def draw(name, nets, paper=False) -> Figure:
    """The named figure (figure2_top, figure2_bottom, figure3, reduced_data) from nets.csv rows;
    paper=True draws the paper's ImageNet values faintly beside ours."""
    per_layer = analysis.per_layer_table(nets)
    theirs = analysis.paper_per_layer() if paper else None
    if name == "figure2_top":
        return figure2_top(nets, theirs)
    if name == "figure2_bottom":
        return figure2_bottom(per_layer, analysis.paired_effects(nets), theirs)
    if name == "figure3":
        return figure3(nets, per_layer, theirs)
    if name == "reduced_data":
        return reduced_data_curve(nets, analysis.paper_nets() if paper else None)
    raise ValueError(f"unknown figure {name!r}: expected one of figure2_top, figure2_bottom, figure3, "
                     "reduced_data")


def save(fig, path, dpi=200) -> None:
    """Write atomically; the format follows the suffix. No creation date, so reruns give equal PDFs."""
    fmt = Path(path).suffix.lstrip(".")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"CreationDate": None} if fmt == "pdf" else None)
