"""The paper's figures, drawn from the tables the collect and summarize commands wrote (nets.csv rows for
each net's marker; per_layer, effects, reduced_data and findings for every mean, band and claim: the
written, rounded values the user reads, never recomputed; see analysis.SUMMARY_TABLES).

Each function returns a matplotlib Figure; callers save it (PNG + PDF). Figures are built without
pyplot and inside an rc_context, so no global plotting state changes. A figure claims only what the run
showed: the paper's findings are labelled where findings.csv says reproduced, and the others are listed
as not reproduced or undetermined. Every figure carries a subtitle with the data set, net, training and
units. Any `paper` argument is the paper's own table in the same format (analysis.paper_per_layer(),
paper_effects() or, for the reduced-data curve, analysis.paper_nets()), drawn faintly and relative to
its base net, so ImageNet's levels never share an axis with ours."""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import analysis
from .io import atomic_path

# treatment -> how it looks everywhere (the paper's Figure 2 code): its colours, marker and label, an offset
# that spreads treatments apart at one n, and for Figure 2's treatments its net's name for target half T
# trained from source half S (`net`) and its label where both directions are pooled (`pooled`, each mean
# over both target halves). A new treatment is one entry here (and its effect in analysis.EFFECTS).
STYLE = {
    "base": dict(color="black", face="white", marker="o", label="baseB", offset=0.0, net="base{T}",
                 pooled="base (baseA, baseB)"),
    "selffer": dict(color="#1a3a8f", face="#1a3a8f", marker="o", label="selffer BnB", offset=-0.21,
                    net="{T}n{T}", pooled="selffer (BnB, AnA)"),
    "selffer_ft": dict(color="#6fa0e8", face="#6fa0e8", marker="+", label="selffer BnB$^+$", offset=-0.07,
                       net="{T}n{T}$^+$", pooled="selffer$^+$ (BnB$^+$, AnA$^+$)"),
    "transfer": dict(color="#a01010", face="#a01010", marker="D", label="transfer AnB", offset=0.07,
                     net="{S}n{T}", pooled="transfer (AnB, BnA)"),
    "transfer_ft": dict(color="#f07c7c", face="#f07c7c", marker="+", label="transfer AnB$^+$", offset=0.21,
                        net="{S}n{T}$^+$", pooled="transfer$^+$ (AnB$^+$, BnA$^+$)"),
    "transfer_ft_lowlr": dict(color="#e0a000", face="#e0a000", marker="X", label="transfer AnB$^+$, copied lr x0.1",
                              offset=0.32, net="{S}n{T}$^+$ (copied lr x0.1)",
                              pooled="transfer$^+$, copied lr x0.1 (AnB$^+$lr, BnA$^+$lr)"),
    "random_frozen": dict(color="#555555", face="#555555", marker="s", label="random frozen", offset=0.0),
}
FIGURE2_TREATMENTS = [treatment for treatment, look in STYLE.items() if "net" in look]
DIRECTION_COLOURS = ["#7b3294", "#e08214"]  # the two target halves of a dissimilar split
PAPER_LINE = dict(alpha=0.3, linestyle="--", linewidth=1.5)
PAPER_LABEL = "paper (ImageNet), relative to its base"
JITTER = 0.04  # half-width of the horizontal jitter that separates nets with equal n
XLABEL = "Layer n at which network is chopped and retrained"
YLABEL = "Top-1 accuracy (higher is better)"
RC = {"font.size": 11, "axes.labelsize": 11, "axes.titlesize": 12, "legend.fontsize": 9,
      "xtick.labelsize": 10, "ytick.labelsize": 10, "axes.spines.top": False, "axes.spines.right": False,
      "savefig.dpi": 200}


def _full_data(nets, split_kind=None):
    rows = nets[nets["images_per_class"].isna() & nets["top1"].notna()]
    return rows if split_kind is None else rows[rows["split_kind"] == split_kind]


def _rows(table, split_kind, treatment, target="", split=None):
    rows = table[(table["split_kind"] == split_kind) & (table["treatment"] == treatment)
                 & (table["target"] == target)]
    return (rows if split is None else rows[rows["split"] == split]).sort_values("n")


def _other(half):
    return {"A": "B", "B": "A"}.get(half, "A")


def subtitle(nets, context=None) -> str:
    """One line: data set, net, training and the units of the random splits (split x seed x half)."""
    context = context or {}
    full = _full_data(nets)
    dataset = context.get("dataset") or ", ".join(sorted(set(full.get("dataset", pd.Series(dtype=str)).dropna())))
    training = context.get("training")
    if not training and "epochs" in full and full["epochs"].notna().any():
        training = f"{int(full['epochs'].max())} epochs"
    grid = full[(full["split_kind"] == "random") & (full["treatment"] != "base")]
    units = grid[[c for c in ("split", "seed", "target") if c in grid]].drop_duplicates()
    counts = [f"{units[c].nunique()} {what}" for c, what in
              (("split", "random split(s)"), ("seed", "seed(s)"), ("target", "target half(s)")) if c in units]
    parts = [dataset or None, f"{context['model']} net" if context.get("model") else None, training,
             f"{len(units)} unit(s): " + " x ".join(counts)]
    return ", ".join(p for p in parts if p)


def _titled(fig, nets, context):
    fig.suptitle(subtitle(nets, context), fontsize=9, color="dimgrey")


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


def not_run(ax, what):
    ax.text(0.5, 0.5, f"{what}: not run", transform=ax.transAxes, ha="center", va="center", color="grey")


def _legend(fig, ax, paper_drawn):
    handles, labels = ax.get_legend_handles_labels()
    if paper_drawn:
        handles.append(Line2D([], [], color="grey", **PAPER_LINE))
        labels.append(PAPER_LABEL)
    if handles:
        fig.legend(handles, labels, loc="outside right upper", frameon=False)


def _paper_relative(ax, paper, level, treatments=FIGURE2_TREATMENTS):
    """The paper's means minus its base, drawn from our base `level` as faint dashed lines (its base as
    that level across all n): the paper's shape on our scale. True if any was drawn."""
    paper_base = _rows(paper, "random", "base")
    if paper_base.empty:
        return False
    drawn = False
    for treatment in treatments:
        rows = _rows(paper, "random", treatment)
        if rows.empty:
            continue
        relative = level + rows["mean"] - paper_base["mean"].iloc[0]
        if treatment == "base":
            ax.axhline(level, color=STYLE[treatment]["color"], **PAPER_LINE)
        else:
            ax.plot(rows["n"], relative, color=STYLE[treatment]["color"], **PAPER_LINE)
        drawn = True
    return drawn


def figure2_top(nets, paper=None, context=None):
    """One marker per trained net of the random splits, x = n (treatments side by side, jittered), one
    panel per target half, each net named as in the paper for its half (BnA is the transfer to A)."""
    nets = _full_data(nets, "random")
    targets = sorted(nets.loc[nets["treatment"] != "base", "target"].unique()) or [""]
    rng = np.random.default_rng(0)  # fixed jitter: the same figure on every run
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(5 + 4 * len(targets), 4.8), layout="constrained")
        axes = fig.subplots(1, len(targets), sharey=True, squeeze=False)[0]
        paper_drawn = False
        for ax, target in zip(axes, targets):
            half = nets[nets["target"] == target]
            for treatment in FIGURE2_TREATMENTS:
                rows = half[half["treatment"] == treatment]
                if len(rows):
                    label = STYLE[treatment]["net"].format(T=target or "B", S=_other(target or "B"))
                    jitter = rng.uniform(-JITTER, JITTER, len(rows))
                    _scatter(ax, rows["n"] + STYLE[treatment]["offset"] + jitter, rows["top1"], treatment,
                             label=label)
            bases = half.loc[half["treatment"] == "base", "top1"]
            if paper is not None and len(bases):
                paper_drawn |= _paper_relative(ax, paper, bases.mean())
            if half.empty:
                not_run(ax, "random-split nets")
            else:
                ax.set_title(f"target half {target} of each random split" if target else "random splits")
                ax.legend(loc="lower left", frameon=False, fontsize=8)
            _layer_axes(ax)
        if paper_drawn:
            fig.legend([Line2D([], [], color="grey", **PAPER_LINE)], [PAPER_LABEL], loc="outside lower center",
                       frameon=False)
        _titled(fig, nets, context)
    return fig


def _mean_line(ax, rows, base, treatment, sem, label):
    """Means of one treatment from the base level at n = 0, with a +-sem band (none for one unit)."""
    look = STYLE[treatment]
    ax.plot([0, *rows["n"]], [base, *rows["mean"]], color=look["color"], marker=look["marker"],
            markerfacecolor=look["face"], markersize=5, linewidth=2, label=label)
    ax.fill_between(rows["n"], rows["mean"] - sem, rows["mean"] + sem, color=look["color"], alpha=0.15, linewidth=0)


# treatment -> its effect against the base net (figure 2's bands show the spread of that difference)
AGAINST_BASE = {a: effect for effect, (a, b) in analysis.EFFECTS.items() if b == "base"}


def _band(effects, rows, treatment):
    """The sem of the treatment's paired difference from its base net, per n (NaN: no band, also for a
    treatment without an effect against the base)."""
    if treatment not in AGAINST_BASE:
        return np.full(len(rows), np.nan)
    paired = _effect_curve(effects, AGAINST_BASE[treatment], "random")["sem"]
    return rows["n"].map(paired).to_numpy(dtype=float)


# finding -> (lower curve, upper curve, text position in axes fraction, hatch, label); the region
# between the two curves is shaded and labelled with an arrow when the run reproduces the finding
REGIONS = {
    "2": ("selffer", "base", (0.03, 0.13), "//", "2: performance drop due to\nfragile co-adaptation"),
    "4": ("transfer", "selffer", (0.03, 0.02), "\\\\",
          "4: performance drop due to\nrepresentation specificity"),
    "3": ("selffer", "selffer_ft", (0.03, 0.89), None, "3: fine-tuning recovers co-adapted interactions"),
    "5": ("selffer_ft", "transfer_ft", (0.03, 0.98), None, "5: transfer + fine-tuning improves generalization"),
}


def _outcomes(findings):
    """finding -> (outcome, why) of the first data set's rows (a run has one)."""
    if findings is None or findings.empty:
        return {}
    rows = findings[findings["dataset"] == findings["dataset"].iloc[0]]
    return {r.finding: (r.outcome, r.why) for r in rows.itertuples()}


def _shade_regions(ax, means, outcomes):
    """Shade and label the region between two treatments' means (treatment -> Series by n) for each
    reproduced finding; return the findings left unlabelled, with their outcome."""
    unlabelled = []
    for finding, (lower, upper, text_at, hatch, label) in REGIONS.items():
        outcome = outcomes.get(finding, ("not run", ""))[0]
        if lower not in means or upper not in means:
            continue
        n = means[lower].index.intersection(means[upper].index)
        low, high = means[lower][n], means[upper][n]
        if outcome != "reproduced" or n.empty or (high - low).max() <= 0:
            unlabelled.append(f"{finding}: {outcome}")
            continue
        colour = STYLE["transfer" if finding in ("4", "5") else "selffer"]["color"]
        ax.fill_between(n, low, high, where=low <= high, interpolate=True,
                        color=colour, alpha=0.08, hatch=hatch, linewidth=0)
        widest = (high - low).idxmax()
        ax.annotate(label, xy=(widest, (low[widest] + high[widest]) / 2), xytext=text_at,
                    textcoords="axes fraction", fontsize=9, va="top" if text_at[1] > 0.5 else "bottom",
                    color=colour, arrowprops=dict(arrowstyle="->", color=colour, lw=0.8))
    return unlabelled


def figure2_bottom(per_layer, effects, findings=None, paper=None, nets=None, context=None):
    """Mean top-1 per treatment and n (random splits, both directions pooled), the regions between them
    labelled with the paper's findings 2-5 that this run reproduces (the others listed as not
    reproduced or undetermined). Bands: +-sem of each treatment's paired difference from the base.
    Where `nets` shows both directions, each line is named by the nets of both halves it pools."""
    base = _rows(per_layer, "random", "base")
    pooled = nets is not None and _full_data(nets, "random").query("treatment != 'base'")["target"].nunique() > 1
    labels = {t: STYLE[t]["pooled"] if pooled else STYLE[t]["label"] for t in FIGURE2_TREATMENTS}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8.5 if pooled else 8, 5), layout="constrained")
        ax = fig.add_subplot()
        paper_drawn = False
        if base.empty:
            not_run(ax, "random-split base nets")
        else:
            level = base["mean"].iloc[0]
            paper_drawn = paper is not None and _paper_relative(ax, paper, level)
            _scatter(ax, [0], [level], "base", label=labels["base"])
            means = {}
            for treatment in FIGURE2_TREATMENTS[1:]:
                rows = _rows(per_layer, "random", treatment)
                if len(rows):
                    _mean_line(ax, rows, level, treatment, _band(effects, rows, treatment), labels[treatment])
                    means[treatment] = rows.set_index("n")["mean"]
            layers = sorted(set().union(*(m.index for m in means.values())))
            means["base"] = pd.Series(level, index=layers)
            ax.axhline(level, color="black", linestyle=":", linewidth=1)
            unlabelled = _shade_regions(ax, means, _outcomes(findings))
            if unlabelled:
                ax.text(0.99, 0.02, "not labelled (findings.csv):\n" + "\n".join(sorted(unlabelled)),
                        transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="dimgrey")
            _pad_for_labels(ax)
        _layer_axes(ax)
        _legend(fig, ax, paper_drawn)
        if nets is not None:
            _titled(fig, nets, context)
    return fig


def _pad_for_labels(ax):
    """Free the top and bottom of the axes for the region labels, whatever the accuracy scale."""
    low, high = ax.get_ylim()
    span = high - low
    ax.set_ylim(low - 0.55 * span, high + 0.35 * span)


def figure3(nets, per_layer, effects, findings=None, paper_effects=None, context=None):
    """Top left: transfer between the halves of a dissimilar split, per target half (named as in the
    config); top right: random frozen layers; bottom: each treatment's top-1 minus its own base, from
    effects.csv. Panels without data say "not run"."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(11, 8.5), layout="constrained")
        grid = fig.add_gridspec(2, 2)
        _dissimilar_panel(fig.add_subplot(grid[0, 0]), nets, per_layer, context)
        _random_frozen_panel(fig.add_subplot(grid[0, 1]), nets, per_layer)
        _differences_panel(fig.add_subplot(grid[1, :]), effects, findings, paper_effects)
        _titled(fig, nets, context)
    return fig


def _jittered(rows, rng):
    return rows["n"] + rng.uniform(-JITTER, JITTER, len(rows))


def half_name(context, split, half):
    """The name of a half of an explicit split (from the config, else "half A")."""
    return ((context or {}).get("halves", {}).get(split, {}).get(half)) or f"half {half}"


def _dissimilar_panel(ax, nets, per_layer, context):
    dissimilar = _full_data(nets, "dissimilar")
    splits = sorted(dissimilar["split"].unique())
    split = splits[0] if splits else None
    explicit = dissimilar[dissimilar["split"] == split]
    targets = sorted(explicit.loc[explicit["treatment"] == "transfer", "target"].unique())
    rng = np.random.default_rng(0)
    for colour, target in zip(DIRECTION_COLOURS, targets):
        bases = explicit[(explicit["treatment"] == "base") & (explicit["target"] == target)]
        transfers = explicit[(explicit["treatment"] == "transfer") & (explicit["target"] == target)]
        ax.scatter(_jittered(bases, rng), bases["top1"], marker="o", facecolors="white", edgecolors=colour,
                   zorder=3)
        name, source = half_name(context, split, target), half_name(context, split, _other(target))
        ax.scatter(_jittered(transfers, rng), transfers["top1"], marker="D", color=colour, s=25, zorder=3,
                   label=f"to {name} from {source} (its base at n = 0)")
        means = _rows(per_layer, "dissimilar", "transfer", target, split)
        base_mean = _rows(per_layer, "dissimilar", "base", target, split)["mean"]
        ax.plot([*[0] * len(base_mean), *means["n"]], [*base_mean, *means["mean"]], color=colour, alpha=0.7)
    if targets:
        ax.legend(loc="lower left", frameon=False, fontsize=7)
        ax.set_title(f"Dissimilar halves ({split})" + (f"; also {', '.join(splits[1:])} in the tables"
                                                        if len(splits) > 1 else ""))
    else:
        not_run(ax, "a split marked dissimilar")
        ax.set_title("Dissimilar halves")
    _layer_axes(ax)


def _random_frozen_panel(ax, nets, per_layer):
    """Each random-frozen net and the base net of its own half (nets.csv); the lines are per_layer.csv's
    means on the random splits or the whole task, whichever ran the controls."""
    full = _full_data(nets)
    frozen = full[full["treatment"] == "random_frozen"]
    units = frozen[[c for c in ("split", "seed", "target") if c in frozen]].drop_duplicates()
    bases = full[full["treatment"] == "base"].merge(units)  # the base net of each frozen net's own half
    if frozen.empty:
        not_run(ax, "random frozen layers")
    else:
        rng = np.random.default_rng(0)
        _scatter(ax, _jittered(bases, rng), bases["top1"], "base", label="base of the same half")
        _scatter(ax, _jittered(frozen, rng), frozen["top1"], "random_frozen")
        for kind in ("random", "unsplit"):
            means, base = _rows(per_layer, kind, "random_frozen"), _rows(per_layer, kind, "base")["mean"]
            if len(means):
                ax.plot([*[0] * len(base), *means["n"]], [*base, *means["mean"]],
                        color=STYLE["random_frozen"]["color"], alpha=0.7)
        ax.legend(loc="lower left", frameon=False)
    ax.set_title("Random frozen first n layers")
    _layer_axes(ax)


def _effect_curve(effects, effect, split_kind):
    """An effect's mean and sem per n over the directions pooled (target ""), for one split kind."""
    rows = effects[(effects["effect"] == effect) & (effects["target"] == "")
                   & (effects["split_kind"] == split_kind)]
    return rows.groupby("n")[["mean", "sem"]].first()


# effect, split_kind, label, colour, marker (random_frozen: whichever kind ran it)
DIFFERENCE_CURVES = [
    ("transfer_drop", "random", "transfer AnB - baseB (random halves)", STYLE["transfer"]["color"], "D"),
    ("transfer_drop", "dissimilar", "transfer - base, dissimilar halves (both directions)",
     DIRECTION_COLOURS[0], "D"),
    ("random_frozen_drop", ("random", "unsplit"), "random frozen - its base", STYLE["random_frozen"]["color"], "s"),
]


def _differences_panel(ax, effects, findings, paper_effects):
    drawn = paper_drawn = False
    for effect, kinds, label, colour, marker in DIFFERENCE_CURVES:
        for kind in (kinds,) if isinstance(kinds, str) else kinds:
            curve = _effect_curve(effects, effect, kind)
            if len(curve):
                ax.plot([0, *curve.index], [0, *curve["mean"]], color=colour, marker=marker, markersize=5,
                        linewidth=2, label=label)
                ax.fill_between(curve.index, curve["mean"] - curve["sem"], curve["mean"] + curve["sem"],
                                color=colour, alpha=0.15, linewidth=0)
                drawn = True
            theirs = _effect_curve(paper_effects, effect, kind) if paper_effects is not None else []
            if len(theirs):
                ax.plot([0, *theirs.index], [0, *theirs["mean"]], color=colour, **PAPER_LINE)
                paper_drawn = True
    if not drawn:
        not_run(ax, "all treatments")
    ax.axhline(0, color="black", linewidth=0.8)
    handles, labels = ax.get_legend_handles_labels()
    if paper_drawn:
        handles.append(Line2D([], [], color="grey", **PAPER_LINE))
        labels.append("paper (ImageNet)")
    if handles:
        ax.legend(handles, labels, loc="lower left", frameon=False)
    outcomes = _outcomes(findings)
    said = [f"{f}: {outcomes[f][0]}" for f in sorted(outcomes) if f.startswith(("4.2", "4.3"))]
    ax.set_title("Top-1 relative to each net's own base, mean +- s.e. over units"
                 + (f"  [findings.csv: {'; '.join(said)}]" if said else ""))
    _layer_axes(ax, "Relative top-1 accuracy (higher is better)")


def reduced_data_curve(nets, reduced, per_layer, paper=None, context=None):
    """Top-1 of base nets trained on fewer images per class: each net (nets.csv rows with
    images_per_class set), and per split group the mean +- sem (reduced_data.csv) and the level of its
    base nets trained on all images (per_layer.csv)."""
    points = nets[nets["images_per_class"].notna() & nets["top1"].notna()]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
        if points.empty:
            not_run(ax, "reduced-data nets")
        else:
            ax.scatter(points["images_per_class"], points["top1"], color="grey", s=15, label="one net")
            _reduced_means(ax, reduced, per_layer)
        theirs = paper[paper["images_per_class"].notna()] if paper is not None else []
        if len(theirs):
            means = theirs.groupby("images_per_class")["top1"].mean()
            ax.plot(means.index, means, color="grey", marker="o", label="paper (ImageNet), 1000 classes",
                    **PAPER_LINE)
        if len(points) or len(theirs):
            ax.set_xscale("log")
        _legend(fig, ax, paper_drawn=False)  # the paper's line carries its own label here
        ax.set_xlabel("Training images per class (log scale)")
        ax.set_ylabel(YLABEL)
        _titled(fig, nets, context)
    return fig


def _reduced_means(ax, reduced, per_layer):
    """One mean line with a +-sem band (none for one net) per split group of reduced_data.csv, and the
    full-data base level of the same group from per_layer.csv."""
    groups = list(reduced.groupby(["split_kind", "split", "target"], sort=True))
    for (kind, split, target), rows in groups:
        rows = rows.sort_values("images_per_class")
        where = "" if len(groups) == 1 else f", {split}" + (f" half {target}" if target else "")
        ax.plot(rows["images_per_class"], rows["mean"], color="black", marker="o", markerfacecolor="white",
                label="mean over seeds" + where)
        ax.fill_between(rows["images_per_class"], rows["mean"] - rows["sem"], rows["mean"] + rows["sem"],
                        color="black", alpha=0.12, linewidth=0)
        base = _rows(per_layer, kind, "base", target, split)
        if len(base):
            ax.axhline(base["mean"].iloc[0], color="black", linestyle=":", label="base, full training set" + where)


def paper_effects() -> pd.DataFrame:
    """The paper's effects in effects.csv's format (paired within its units)."""
    return analysis.effects_table(analysis.unit_effects(analysis.paper_nets()))


# figure name -> how to draw it from nets.csv, the tables the summarize command wrote (name -> table, see
# analysis.SUMMARY_TABLES), the paper's values (paper=True) and the subtitle's context
FIGURES = {
    "figure2_top": lambda nets, tables, paper, context: figure2_top(
        nets, analysis.paper_per_layer() if paper else None, context),
    "figure2_bottom": lambda nets, tables, paper, context: figure2_bottom(
        tables["per_layer"], tables["effects"], tables["findings"], analysis.paper_per_layer() if paper else None,
        nets, context),
    "figure3": lambda nets, tables, paper, context: figure3(
        nets, tables["per_layer"], tables["effects"], tables["findings"], paper_effects() if paper else None,
        context),
    "reduced_data": lambda nets, tables, paper, context: reduced_data_curve(
        nets, tables["reduced_data"], tables["per_layer"], analysis.paper_nets() if paper else None, context),
}


def draw(name, nets, tables, context=None, paper=False) -> Figure:
    """The named figure (see FIGURES) from nets.csv and the tables the summarize command wrote, never
    recomputed; paper=True draws the paper's ImageNet values faintly beside ours."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}: expected one of {', '.join(FIGURES)}")
    return FIGURES[name](nets, tables, paper, context)


def save(fig, path, dpi=200) -> None:
    """Write atomically; the format follows the suffix. No creation date, so reruns give equal PDFs."""
    fmt = Path(path).suffix.lstrip(".")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"CreationDate": None} if fmt == "pdf" else None)
