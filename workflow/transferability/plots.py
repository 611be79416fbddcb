"""The paper's figures, drawn with seaborn from the run's per-unit values (one row per net, or per cluster).

Every mean is drawn with the 95% t interval over independent units that the tables report: seaborn computes
both from the cluster values (a split and seed, its target halves averaged: analysis.per_layer_units,
effect_samples, reduced_data_units) with analysis.t_interval as its `errorbar`, so a figure's line and band
are per_layer.csv's, effects.csv's or reduced_data.csv's mean, ci95_low and ci95_high. One unit: no band.

Each function returns a matplotlib Figure (no pyplot: no global state; the caller saves it as PNG + PDF)
with a constrained layout, legends outside the axes and a subtitle naming the data set, net, training and
units. A figure claims only what the run showed: the paper's findings are marked where findings.csv says
reproduced, and the legend lists the others with their outcome. Any `paper` argument is the paper's own
table in the same format (analysis.paper_per_layer(), paper_effects(), analysis.paper_nets()), drawn dashed
and relative to its own base, so ImageNet's levels never share an axis with ours."""

import textwrap
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import analysis
from .freezing import layer_tests
from .io import atomic_path

# treatment -> how it looks everywhere (the paper's Figure 2 colours): colour, marker, label, and for
# Figure 2's treatments its net's name for target half T trained from source half S (`net`) and its label
# where both directions are pooled (`pooled`). A new treatment is one entry here (and in analysis.EFFECTS).
STYLE = {
    "base": dict(color="black", marker="o", label="baseB", net="base{T}", pooled="base (baseA, baseB)"),
    "selffer": dict(color="#1a3a8f", marker="o", label="selffer BnB", net="{T}n{T}",
                    pooled="selffer (BnB, AnA)"),
    "selffer_ft": dict(color="#6fa0e8", marker="P", label="selffer BnB$^+$", net="{T}n{T}$^+$",
                       pooled="selffer$^+$ (BnB$^+$, AnA$^+$)"),
    "transfer": dict(color="#a01010", marker="D", label="transfer AnB", net="{S}n{T}",
                     pooled="transfer (AnB, BnA)"),
    "transfer_ft": dict(color="#f07c7c", marker="P", label="transfer AnB$^+$", net="{S}n{T}$^+$",
                        pooled="transfer$^+$ (AnB$^+$, BnA$^+$)"),
    "transfer_ft_lowlr": dict(color="#e0a000", marker="X", label="transfer AnB$^+$, copied lr x0.1",
                              net="{S}n{T}$^+$ (copied lr x0.1)",
                              pooled="transfer$^+$, copied lr x0.1 (AnB$^+$lr, BnA$^+$lr)"),
    "random_frozen": dict(color="#555555", marker="s", label="random frozen"),
}
FIGURE2_TREATMENTS = [treatment for treatment, look in STYLE.items() if "net" in look]
# the two target halves of a dissimilar split, and the two pooled: colours no other panel uses
DIRECTION_COLOURS = ["#7b3294", "#e08214"]
DISSIMILAR_POOLED = "#1b9e77"
PAPER_LINE = dict(alpha=0.45, linestyle="--", linewidth=1.5)
PAPER_LABEL = "Yosinski et al. 2014 (ImageNet), relative to its base"
BAND = dict(alpha=0.15, linewidth=0)
JITTER = 0.04  # half-width of the horizontal jitter that separates nets with equal n
PAPER_LAST_N = 7  # the paper's nets are chopped at n = 1..7 of their 8 layers
XLABEL = "Layer n at which network is chopped and retrained"
XLABEL_SHORT = "Layer n copied or frozen"  # side by side panels
YLABEL = "Top-1 accuracy"
INTERVAL = "mean, 95% t interval"
RC = {"axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False, "savefig.dpi": 200}


@contextmanager
def style():
    """seaborn's paper style for every figure, without changing the process's global settings."""
    with sns.axes_style("ticks"), sns.plotting_context("paper", font_scale=1.2), matplotlib.rc_context(RC):
        yield


def _full_data(nets, split_kind=None):
    rows = nets[nets["images_per_class"].isna() & nets["top1"].notna()]
    return rows if split_kind is None else rows[rows["split_kind"] == split_kind]


def _other(half):
    return {"A": "B", "B": "A"}.get(half, "A")


def cluster_count(units: pd.DataFrame) -> int:
    return len(units[["split", "seed"]].drop_duplicates()) if len(units) else 0


def subtitle(context, units: str, width=110) -> str:
    """Data set, net, training and what a figure's means and intervals are over, wrapped to `width` characters."""
    context = context or {}
    parts = [context.get("dataset"), f"{context['model']} net" if context.get("model") else None,
             context.get("training"), units]
    return "\n".join(textwrap.wrap(", ".join(p for p in parts if p), width))


def titled(fig, context, units):
    """The subtitle, wrapped to the figure's width (about 14 characters of 9-point text an inch)."""
    fig.suptitle(subtitle(context, units, int(fig.get_figwidth() * 14)), fontsize=9, color="dimgrey")


def last_layer(nets) -> int:
    """The x-axes' last n: the paper's 7, or the data's largest n where a deeper net's runs beyond it
    (resnet18: n = 1..9)."""
    largest = nets["n"].max() if "n" in nets and len(nets) else None
    return max(PAPER_LAST_N, int(largest)) if pd.notna(largest) else PAPER_LAST_N


def _layer_axes(ax, ylabel=YLABEL, xlabel=XLABEL, last=None):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    last = last or PAPER_LAST_N
    ax.set_xticks(range(last + 1))
    ax.set_xlim(-0.5, last + 0.5)


def not_run(ax, what):
    ax.text(0.5, 0.5, f"{what}: not run", transform=ax.transAxes, ha="center", va="center", color="grey")


def _take_legend(ax) -> tuple[list, list]:
    """The handles and labels of the legend seaborn drew on `ax`, removed from it (to gather them outside)."""
    legend = ax.get_legend()
    if legend is None:
        return [], []
    handles, labels = list(legend.legend_handles), [t.get_text() for t in legend.get_texts()]
    legend.remove()
    return handles, labels


def legend_beside(ax, palette: dict):
    """A legend of coloured lines (label -> colour) beside `ax`: one for panels that share it."""
    _legend_right(ax, [Line2D([], [], color=colour, marker="o") for colour in palette.values()], list(palette))


def _legend_right(ax, handles, labels):
    """The legend beside the axes (the constrained layout makes room for it, under the subtitle)."""
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1))


def _legend_below(ax, handles, labels, columns=2):
    """The legend under the axes' x label, in columns."""
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=columns)


@contextmanager
def fixed_jitter():
    """seaborn's strip plots jitter with NumPy's global generator: seeded here (and restored after), so a
    rerun draws the same figure and writes the same PDF."""
    state = np.random.get_state()
    np.random.seed(0)
    try:
        yield
    finally:
        np.random.set_state(state)


def _means(ax, data, x, y, hue, order, palette, markers=True, **kwargs):
    """seaborn's line of each hue level's mean with its 95% t interval over the rows (the units)."""
    sns.lineplot(data=data, x=x, y=y, hue=hue, hue_order=order, style=hue, style_order=order, palette=palette,
                 markers=markers, dashes=False, errorbar=analysis.t_interval, err_kws=BAND, ax=ax, **kwargs)


# ---- Figure 2 ----------------------------------------------------------------------------------------


def _net_names(target):
    """treatment -> its net's name for target half `target` (BnA is the transfer to A)."""
    return {t: STYLE[t]["net"].format(T=target or "B", S=_other(target or "B")) for t in FIGURE2_TREATMENTS}


def figure2_top(nets, paper=None, context=None):
    """One marker per trained net of the random splits, x = n (treatments side by side, jittered), one
    panel per target half, each net named as in the paper for its half."""
    nets = _full_data(nets, "random")
    nets = nets[nets["treatment"].isin(FIGURE2_TREATMENTS)]
    targets = sorted(nets.loc[nets["treatment"] != "base", "target"].unique()) or [""]
    with style():
        fig = Figure(figsize=(1.5 + 4.5 * len(targets), 5.4), layout="constrained")
        axes = fig.subplots(1, len(targets), sharey=True, squeeze=False)[0]
        for ax, target in zip(axes, targets):
            half = nets[nets["target"] == target]
            _layer_axes(ax, last=last_layer(nets))
            if half.empty:
                not_run(ax, "random-split nets")
                continue
            _net_markers(ax, half, _net_names(target), paper, last_layer(nets))
            ax.set_title(f"target half {target} of each random split" if target else "random splits")
        titled(fig, context, f"one marker per net, {cluster_count(nets)} clusters (random split x seed)")
    return fig


def _net_markers(ax, half, names, paper, last=None):
    """The nets of one target half as seaborn's dodged strip plot, its legend under the panel; the paper's
    means relative to this half's base level if given."""
    present = [t for t in FIGURE2_TREATMENTS if (half["treatment"] == t).any()]
    half = half.assign(net_name=half["treatment"].map(names))
    order = [names[t] for t in present]
    with fixed_jitter():
        sns.stripplot(data=half, x="n", y="top1", hue="net_name", hue_order=order, native_scale=True, dodge=True,
                      jitter=JITTER, size=5, palette={names[t]: STYLE[t]["color"] for t in present}, ax=ax)
    _layer_axes(ax, last=last)  # the strip plot labels its axes with the column names
    handles, labels = _take_legend(ax)
    bases = half.loc[half["treatment"] == "base", "top1"]
    if paper is not None and len(bases) and _paper_relative(ax, paper, bases.mean()):
        handles, labels = [*handles, Line2D([], [], color="grey", **PAPER_LINE)], [*labels, PAPER_LABEL]
    _legend_below(ax, handles, labels)


def _paper_relative(ax, paper, level):
    """The paper's means minus its base, drawn from our base `level` as dashed lines: its shape on our
    scale. True if any was drawn."""
    rows = paper[(paper["split_kind"] == "random") & (paper["target"] == "")]
    base = rows.loc[rows["treatment"] == "base", "mean"]
    rows = rows[rows["treatment"].isin(FIGURE2_TREATMENTS[1:])]
    if base.empty or rows.empty:
        return False
    ax.axhline(level, color=STYLE["base"]["color"], **PAPER_LINE)
    sns.lineplot(data=rows.assign(relative=level + rows["mean"] - base.iloc[0]), x="n", y="relative",
                 hue="treatment", palette={t: STYLE[t]["color"] for t in STYLE}, errorbar=None, legend=False,
                 ax=ax, **PAPER_LINE)
    return True


# treatment -> its effect against the base net of its unit (analysis.EFFECTS)
AGAINST_BASE = {a: effect for effect, (a, b) in analysis.EFFECTS.items() if b == "base"}

# finding -> (lower curve, upper curve, hatch, label): the region between two treatments' mean differences
# from the base (the base itself at 0) is shaded and numbered where the run reproduces the finding
REGIONS = {
    "2": ("selffer", "base", "//", "performance drop due to fragile co-adaptation"),
    "3": ("selffer", "selffer_ft", None, "fine-tuning recovers co-adapted interactions"),
    "4": ("transfer", "selffer", "\\\\", "performance drop due to representation specificity"),
    "5": ("selffer_ft", "transfer_ft", None, "transfer + fine-tuning improves generalization"),
}


def _outcomes(findings):
    """finding -> outcome of the first data set's rows (a run has one)."""
    if findings is None or findings.empty:
        return {}
    rows = findings[findings["dataset"] == findings["dataset"].iloc[0]]
    return {str(r.finding): r.outcome for r in rows.itertuples()}


def differences_from_base(nets, split_kind="random", treatments=FIGURE2_TREATMENTS) -> pd.DataFrame:
    """Each cluster's top-1 of a treatment minus its base net's (effects.csv's samples, target "": the
    directions pooled), with the treatment's name: the rows figure 2's bottom draws."""
    samples = analysis.effect_samples(analysis.unit_effects(nets))
    treatment = {effect: t for t, effect in AGAINST_BASE.items() if t in treatments}
    rows = samples[(samples["split_kind"] == split_kind) & (samples["target"] == "")
                   & samples["effect"].isin(treatment)]
    return rows.assign(treatment=rows["effect"].map(treatment))


def _pooled(nets) -> bool:
    """Whether the random splits' nets target both halves (figure 2's lines then pool both directions)."""
    grid = _full_data(nets, "random")
    return grid.loc[grid["treatment"] != "base", "target"].nunique() > 1


def figure2_bottom(nets, findings=None, paper_effects=None, context=None):
    """Each treatment's top-1 minus its base net's per n (random splits, both directions pooled), with the
    95% t interval of that difference over clusters; the regions between them numbered with the paper's
    findings 2-5 that this run reproduces, the others listed with their outcome."""
    rows = differences_from_base(nets)
    labels = {t: STYLE[t]["pooled"] if _pooled(nets) else STYLE[t]["label"] for t in FIGURE2_TREATMENTS}
    with style():
        fig = Figure(figsize=(10, 6.5), layout="constrained")
        ax = fig.add_subplot()
        handles, names = [], []
        if rows.empty:
            not_run(ax, "random-split transfer grid")
        else:
            order = [labels[t] for t in FIGURE2_TREATMENTS if (rows["treatment"] == t).any()]
            _means(ax, rows.assign(label=rows["treatment"].map(labels)), "n", "diff", "label", order,
                   {labels[t]: STYLE[t]["color"] for t in STYLE if t in labels},
                   {labels[t]: STYLE[t]["marker"] for t in STYLE if t in labels})
            handles, names = _take_legend(ax)
            base = ax.axhline(0, color="black", linestyle=":", linewidth=1)
            handles, names = [base, *handles], [f"{labels['base']}: 0 by definition", *names]
            if paper_effects is not None and _paper_differences(ax, paper_effects):
                handles, names = [*handles, Line2D([], [], color="grey", **PAPER_LINE)], [*names, PAPER_LABEL]
            region_handles, region_names = _regions(ax, rows.groupby(["treatment", "n"])["diff"].mean(),
                                                    _outcomes(findings))
            handles, names = handles + region_handles, names + region_names
        _layer_axes(ax, f"Top-1 minus its base net's ({INTERVAL})", last=last_layer(nets))
        _legend_below(ax, handles, names)
        titled(fig, context, f"{INTERVAL} over {cluster_count(rows)} clusters (random split x seed, halves averaged)")
    return fig


def _paper_differences(ax, paper_effects, effects=None):
    """The paper's mean differences from its base (random splits, pooled), dashed. True if drawn."""
    effects = effects or {effect: STYLE[t]["color"] for t, effect in AGAINST_BASE.items() if t in STYLE}
    rows = paper_effects[(paper_effects["split_kind"] == "random") & (paper_effects["target"] == "")
                         & paper_effects["effect"].isin(effects)]
    if rows.empty:
        return False
    sns.lineplot(data=rows, x="n", y="mean", hue="effect", palette=effects, errorbar=None, legend=False, ax=ax,
                 **PAPER_LINE)
    return True


def _regions(ax, means, outcomes):
    """Shade and number the region between two treatments' mean differences (means: Series by treatment
    and n; the base is 0) for each reproduced finding, each number at a different n; return the legend's
    entries: one per finding figure 2 shows, with its outcome."""
    handles, names, used = [], [], set()
    for finding, (lower, upper, hatch, label) in REGIONS.items():
        outcome = outcomes.get(finding, "not run")
        low, high = _curve(means, lower), _curve(means, upper)
        n = low.index.intersection(high.index)
        low, high = low[n], high[n]
        colour = STYLE["transfer" if finding in ("4", "5") else "selffer"]["color"]
        if outcome == "reproduced" and len(n) and (high - low).max() > 0:
            ax.fill_between(n, low, high, where=low <= high, interpolate=True, color=colour, alpha=0.1,
                            hatch=hatch, linewidth=0)
            at = (high - low)[[k for k in n if k not in used] or list(n)].idxmax()
            used.add(at)
            ax.text(at, (low[at] + high[at]) / 2, finding, color=colour, ha="center", va="center",
                    fontweight="bold", bbox=dict(boxstyle="circle,pad=0.15", facecolor="white", edgecolor=colour))
            handles.append(Patch(facecolor=colour, alpha=0.3, hatch=hatch, edgecolor=colour))
            names.append(f"finding {finding}, reproduced: {label}")
        else:
            handles.append(Patch(facecolor="none", edgecolor="none"))
            names.append(f"finding {finding}: {outcome}")
    return handles, names


def _curve(means, treatment) -> pd.Series:
    """A treatment's mean difference from the base by n (the base: 0 at every n drawn)."""
    if treatment == "base":
        return pd.Series(0.0, index=sorted(set(means.index.get_level_values("n"))))
    return means[treatment] if treatment in means.index.get_level_values("treatment") else pd.Series(dtype=float)


# ---- Figure 3 ----------------------------------------------------------------------------------------


def figure3(nets, findings=None, paper_effects=None, context=None):
    """Top left: transfer between the halves of a dissimilar split, per target half (named as in the
    config); top right: random frozen layers; bottom: each treatment's top-1 minus its own base. Panels
    without data say "not run"."""
    with style():
        fig = Figure(figsize=(12, 9), layout="constrained")
        grid = fig.add_gridspec(2, 2)
        _dissimilar_panel(fig.add_subplot(grid[0, 0]), nets, context)
        _random_frozen_panel(fig.add_subplot(grid[0, 1]), nets)
        _differences_panel(fig.add_subplot(grid[1, :]), nets, findings, paper_effects)
        titled(fig, context, f"{INTERVAL} over clusters (split x seed)")
    return fig


def half_name(context, split, half):
    """The name of a half of an explicit split (from the config, else "half A")."""
    return ((context or {}).get("halves", {}).get(split, {}).get(half)) or f"half {half}"


def _dissimilar_panel(ax, nets, context):
    """The first dissimilar split's base and transfer nets per direction, and their means over seeds."""
    dissimilar = _full_data(nets, "dissimilar")
    splits = sorted(dissimilar["split"].unique())
    rows = dissimilar[(dissimilar["split"] == (splits[0] if splits else None))
                      & dissimilar["treatment"].isin(["base", "transfer"])]
    targets = sorted(rows.loc[rows["treatment"] == "transfer", "target"].unique())
    rows = rows[rows["target"].isin(targets)]
    _layer_axes(ax, xlabel=XLABEL_SHORT, last=last_layer(nets))
    if not targets:
        not_run(ax, "a split marked dissimilar")
        ax.set_title("Dissimilar halves")
        return
    directions = {t: f"to {half_name(context, splits[0], t)} from {half_name(context, splits[0], _other(t))}"
                  for t in targets}
    rows = rows.assign(direction=rows["target"].map(directions))
    order, palette = list(directions.values()), dict(zip(directions.values(), DIRECTION_COLOURS))
    with fixed_jitter():
        sns.stripplot(data=rows, x="n", y="top1", hue="direction", hue_order=order, palette=palette,
                      native_scale=True, jitter=JITTER, size=4, alpha=0.6, legend=False, ax=ax)
    _means(ax, rows, "n", "top1", "direction", order, palette)
    _layer_axes(ax, xlabel=XLABEL_SHORT, last=last_layer(nets))
    sns.move_legend(ax, "lower left", title="its base at n = 0", fontsize=8, title_fontsize=8)
    also = f"; also {', '.join(splits[1:])} in the tables" if len(splits) > 1 else ""
    ax.set_title(f"Dissimilar halves ({splits[0]}){also}")


def _random_frozen_panel(ax, nets):
    """Each random-frozen net and the base net of its own half, and their means over clusters (random
    splits or the whole task, whichever ran the controls)."""
    full = _full_data(nets)
    frozen = full[full["treatment"] == "random_frozen"]
    _layer_axes(ax, xlabel=XLABEL_SHORT, last=last_layer(nets))
    ax.set_title("Random frozen first n layers")
    if frozen.empty:
        not_run(ax, "random frozen layers")
        return
    units = frozen[["split", "seed", "target"]].drop_duplicates()
    rows = pd.concat([full[full["treatment"] == "base"].merge(units), frozen])  # each frozen net's own base
    rows = rows.assign(what=rows["treatment"].map({"base": "base of the same half", "random_frozen": "one net"}))
    with fixed_jitter():
        sns.stripplot(data=rows, x="n", y="top1", hue="what", palette={"base of the same half": "black",
                      "one net": STYLE["random_frozen"]["color"]}, native_scale=True, jitter=JITTER, size=4,
                      alpha=0.6, ax=ax)
    means = analysis.per_layer_units(rows)
    means = means[means["split_kind"].isin(["random", "unsplit"])].assign(what="mean over clusters")
    _means(ax, means, "n", "top1", "what", ["mean over clusters"], {"mean over clusters": STYLE["random_frozen"]["color"]})
    _layer_axes(ax, xlabel=XLABEL_SHORT, last=last_layer(nets))
    sns.move_legend(ax, "lower left", title=None)


# effect, split kinds, label, colour, marker of the differences panel (random_frozen: whichever kind ran it)
DIFFERENCE_CURVES = [
    ("transfer_drop", ("random",), "transfer AnB - baseB (random halves)", STYLE["transfer"]["color"], "D"),
    ("transfer_drop", ("dissimilar",), "transfer - base, dissimilar halves (both directions)", DISSIMILAR_POOLED,
     "^"),
    ("random_frozen_drop", ("random", "unsplit"), "random frozen - its base", STYLE["random_frozen"]["color"], "s"),
]


def _differences_panel(ax, nets, findings, paper_effects):
    samples = analysis.effect_samples(analysis.unit_effects(nets))
    samples = samples[samples["target"] == ""]
    curves = [samples[(samples["effect"] == effect) & samples["split_kind"].isin(kinds)].assign(curve=label)
              for effect, kinds, label, _, _ in DIFFERENCE_CURVES]
    rows = pd.concat(curves, ignore_index=True)
    _layer_axes(ax, f"Top-1 minus its base net's ({INTERVAL})", last=last_layer(nets))
    ax.axhline(0, color="black", linewidth=0.8)
    if rows.empty:
        not_run(ax, "all treatments")
    else:
        order = [c[2] for c in DIFFERENCE_CURVES if (rows["curve"] == c[2]).any()]
        _means(ax, rows, "n", "diff", "curve", order, {c[2]: c[3] for c in DIFFERENCE_CURVES},
               {c[2]: c[4] for c in DIFFERENCE_CURVES})
        _layer_axes(ax, f"Top-1 minus its base net's ({INTERVAL})", last=last_layer(nets))
        handles, labels = _take_legend(ax)
        if paper_effects is not None and _paper_differences(
                ax, paper_effects, {"transfer_drop": STYLE["transfer"]["color"],
                                    "random_frozen_drop": STYLE["random_frozen"]["color"]}):
            handles, labels = [*handles, Line2D([], [], color="grey", **PAPER_LINE)], [*labels, PAPER_LABEL]
        _legend_below(ax, handles, labels)
    outcomes = _outcomes(findings)
    said = [f"{f}: {outcomes[f]}" for f in sorted(outcomes) if f.startswith(("4.2", "4.3"))]
    ax.set_title("Top-1 relative to each net's own base" + (f" (findings {'; '.join(said)})" if said else ""))


# ---- the reduced-data curve --------------------------------------------------------------------------


def reduced_data_curve(nets, paper=None, context=None):
    """Top-1 of base nets trained on fewer images per class: each net, and per split group the mean and
    95% t interval over clusters and the level of its base nets trained on all images."""
    points = nets[nets["images_per_class"].notna() & nets["top1"].notna()]
    units = analysis.reduced_data_units(nets)
    with style():
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        if points.empty:
            not_run(ax, "reduced-data nets")
        else:
            sns.scatterplot(data=points, x="images_per_class", y="top1", color="grey", s=18, label="one net", ax=ax)
            _reduced_means(ax, units, nets)
        theirs = paper[paper["images_per_class"].notna()] if paper is not None else []
        if len(theirs):
            sns.lineplot(data=theirs, x="images_per_class", y="top1", color="grey", marker="o", errorbar=None,
                         label="Yosinski et al. 2014 (ImageNet), 1000 classes", ax=ax, **PAPER_LINE)
        if len(points) or len(theirs):
            ax.set_xscale("log")
        _legend_right(ax, *_take_legend(ax))
        ax.set_xlabel("Training images per class (log scale)")
        ax.set_ylabel(f"{YLABEL} ({INTERVAL})")
        titled(fig, context, f"{INTERVAL} over {cluster_count(units)} clusters (split x seed) per point")
    return fig


def _reduced_means(ax, units, nets):
    """One mean line with its interval per split group, and the full-data base level of the same group."""
    groups = units.assign(group=units["group"] + np.where(units["target"] != "", " half " + units["target"], ""))
    several = groups["group"].nunique() > 1
    groups = groups.assign(line=("mean, " + groups["group"]) if several else "mean")
    palette = dict(zip(sorted(groups["line"].unique()), sns.color_palette("dark", groups["line"].nunique())))
    _means(ax, groups, "images_per_class", "top1", "line", sorted(palette), palette, markers=False,
           marker="o", markerfacecolor="white")
    full = analysis.per_layer_units(nets)
    for line, colour in palette.items():
        group = groups.loc[groups["line"] == line].iloc[0]
        base = full[(full["treatment"] == "base") & (full["group"] == group["group"].split(" half ")[0])
                    & (full["target"] == group["target"])]
        if len(base):
            ax.axhline(base["top1"].mean(), color=colour, linestyle=":",
                       label="base, full training set" + (f", {group['group']}" if several else ""))


# ---- how many units of A to freeze --------------------------------------------------------------------


def freezing_figure(nets, answers, context=None):
    """Left: AnB (first n units of A frozen) and AnB+ (fine-tuned) per n with their 95% t intervals over
    clusters; right: the cost of freezing units 1..n, each cluster's AnB+ at the best n minus its AnB at n, with
    the one-sided 95% upper bound its test used (freezing.layer_tests) and the margin. For the random splits'
    answer in freezing.csv (pooled) where the run has them, else the first split group's, named in the subtitle;
    the layers shown within the margin shaded, the answer as the title."""
    with style():
        fig = Figure(figsize=(12, 5.4), layout="constrained")
        ax, cost_ax = fig.subplots(1, 2)
        answer = shown_answer(answers)
        units = analysis.per_layer_units(nets)
        if answer is not None:
            units = units[(units["group"] == answer["group"]) & (units["target"] == _text(answer["target"]))]
        rows = units[units["treatment"].isin(["transfer", "transfer_ft"])]
        _layer_axes(ax, f"{YLABEL} ({INTERVAL})", last=last_layer(nets))
        _layer_axes(cost_ax, "Cost: best AnB$^+$ - AnB (95% upper bound)", last=last_layer(nets))
        if answer is None or rows.empty:
            not_run(ax, "transfer nets, frozen and fine-tuned")
        else:
            _freezing_lines(ax, rows, answer)
            _freezing_costs(cost_ax, rows, answer)
            said = answer["answer"] if answer["answer"].startswith(answer["outcome"]) else \
                f"{answer['outcome']}: {answer['answer']}"  # "not shown that ...", "undetermined: ..." say it already
            fig.suptitle("\n".join(textwrap.wrap(said, 100)), fontsize=10)
        titled_below(fig, context, f"{_answer_group(answer)}: {INTERVAL} over {cluster_count(rows)} clusters "
                                   "(split x seed)")
    return fig


def _answer_group(answer) -> str:
    if answer is None:
        return "no answer"
    if answer["group"] == "random":
        return "random splits"
    return f"split {answer['group']}" + (f", half {answer['target']}" if _text(answer["target"]) else "")


def shown_answer(answers):
    """The answer the figure draws: the random splits' (pooled) where the run has them, else the first."""
    if answers is None or answers.empty:
        return None
    random = answers[answers["group"] == "random"]
    return (random if len(random) else answers).iloc[0]


def titled_below(fig, context, units):
    """The subtitle at the foot of the figure (its title is taken by the answer)."""
    fig.supxlabel(subtitle(context, units, int(fig.get_figwidth() * 14)), fontsize=9, color="dimgrey")


def _freezing_costs(ax, rows, answer):
    """Each n's mean cost and the upper end of its one-sided 95% interval, the margin, the layers shown."""
    _, tests = layer_tests(rows)
    tests = tests.droplevel([level for level in tests.index.names if level != "n"])
    ax.errorbar(tests.index, tests["cost"], yerr=[np.zeros(len(tests)), (tests["bound"] - tests["cost"]).fillna(0)],
                color=STYLE["transfer"]["color"], marker="D", capsize=4, linewidth=1.5, label="mean cost, 95% upper bound")
    margin = ax.axhline(answer["margin"], color="black", linestyle="--", linewidth=1)
    ax.axhline(0, color="grey", linewidth=0.6)
    handles, names = [*ax.get_legend_handles_labels()[0], margin], ["mean cost, 95% upper bound",
                                                                    f"margin: {answer['margin'] * 100:g} point"]
    if pd.notna(answer.get("deepest_n")):
        handles.append(ax.axvspan(0.5, answer["deepest_n"] + 0.5, color="#2b8a3e", alpha=0.08, linewidth=0))
        names.append("shown within the margin (tests stop at the first n not shown)")
    _legend_below(ax, handles, names, columns=1)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _freezing_lines(ax, rows, answer):
    labels = {"transfer": "AnB: units 1..n of A frozen", "transfer_ft": "AnB$^+$: units 1..n of A fine-tuned"}
    rows = rows.assign(label=rows["treatment"].map(labels))
    _means(ax, rows, "n", "top1", "label", list(labels.values()),
           {labels[t]: STYLE[t]["color"] for t in labels}, {labels[t]: STYLE[t]["marker"] for t in labels})
    _layer_axes(ax, f"{YLABEL} ({INTERVAL})", last=int(ax.get_xlim()[1] - 0.5))
    handles, names = _take_legend(ax)
    best = ax.axhline(answer["best_top1"] - answer["margin"], color=STYLE["transfer_ft"]["color"], linestyle=":",
                      linewidth=1)
    handles, names = [*handles, best], [*names, f"best AnB$^+$ (n = {int(answer['best_n'])}) minus "
                                                f"{answer['margin'] * 100:g} point"]
    _legend_below(ax, handles, names, columns=1)


def paper_effects() -> pd.DataFrame:
    """The paper's effects in effects.csv's format (paired within its units)."""
    return analysis.effects_table(analysis.unit_effects(analysis.paper_nets()))


# figure name -> how to draw it from nets.csv, the tables the summarize command wrote (name -> table, see
# outputs.SUMMARY_TABLES: the figures read findings.csv), the paper's values (paper=True) and the context
FIGURES = {
    "figure2_top": lambda nets, tables, paper, context: figure2_top(
        nets, analysis.paper_per_layer() if paper else None, context),
    "figure2_bottom": lambda nets, tables, paper, context: figure2_bottom(
        nets, tables["findings"], paper_effects() if paper else None, context),
    "figure3": lambda nets, tables, paper, context: figure3(
        nets, tables["findings"], paper_effects() if paper else None, context),
    "freezing": lambda nets, tables, paper, context: freezing_figure(nets, tables["freezing"], context),
    "reduced_data": lambda nets, tables, paper, context: reduced_data_curve(
        nets, analysis.paper_nets() if paper else None, context),
}


def draw(name, nets, tables, context=None, paper=False) -> Figure:
    """The named figure (see FIGURES) from nets.csv and findings.csv; paper=True draws the paper's ImageNet
    values dashed beside ours."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}: expected one of {', '.join(FIGURES)}")
    return FIGURES[name](nets, tables, paper, context)


def save(fig, path, dpi=200) -> None:
    """Write atomically; the format follows the suffix. No creation date, so reruns give equal PDFs."""
    fmt = Path(path).suffix.lstrip(".")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"CreationDate": None} if fmt == "pdf" else None)
