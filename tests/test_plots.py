"""Tests of the figures (transferability.plots) by content: the drawn lines, bands and markers read back and
compared with the tables the run writes; what is claimed; that no two texts collide; saving; missing data."""

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from conftest import ROOT
from transferability.config import load_config
from transferability import analysis, cli, curves, freezing, layer_figures, measures, outputs, plan, plots, tables

CONTEXT = {"dataset": "synthetic", "model": "small", "training": "3 epochs",
           "halves": {"dissimilar": {"A": "garments", "B": "footwear and bags"}}}


def net(treatment, n, top1, split_kind="random", target="B", images_per_class=np.nan, split="random0", seed=0):
    return dict(dataset="synthetic", split=split, split_kind=split_kind, seed=seed, treatment=treatment, n=n,
                target=target, top1=top1, top5=np.nan, images_per_class=images_per_class, epochs=3)


@pytest.fixture
def nets():
    """Random splits: two seeds of baseA, baseB and, on B, selffers and transfers (no fine-tuned ones);
    a dissimilar split with both directions; random frozen nets on B; reduced-data nets."""
    rows = []
    for seed, noise, wobble in ((0, 0.0, 0.005), (1, 0.004, -0.003)):
        rows += [net("base", 0, 0.70 + noise, target="A", seed=seed), net("base", 0, 0.72 + noise, seed=seed)]
        for n in (1, 2):
            rows += [net("selffer", n, 0.72 + noise + wobble * n, seed=seed),  # no co-adaptation dip
                     net("transfer", n, 0.64 - 0.03 * n + noise, seed=seed)]
        rows += [net("random_frozen", n, 0.3 + noise, seed=seed) for n in (1, 2)]
    for half, level in (("A", 0.8), ("B", 0.6)):
        rows += [net("base", 0, level, "dissimilar", half, split="dissimilar")]
        rows += [net("transfer", n, level - 0.1 * n, "dissimilar", half, split="dissimilar") for n in (1, 2, 3)]
    rows += [net("base", 0, acc, images_per_class=k) for k, acc in ((10, 0.2), (10, 0.3), (100, 0.5), (100, 0.6))]
    return pd.DataFrame(rows)


@pytest.fixture
def summary(nets):
    return analysis.summarize(nets)


def points(collection):
    return len(collection.get_offsets())


def legend_texts(legend):
    return [t.get_text() for t in legend.get_texts()]


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def written_tables(nets, folder):
    """nets.csv and the summary tables as the summarize command writes them, read back as draw reads them."""
    tables.write_csv(nets, folder / "nets.csv")
    assert cli.main(["summarize", "--nets", str(folder / "nets.csv"), "--out-dir", str(folder)]) == 0
    return {name: tables.read_table(folder / f"{name}.csv") for name in outputs.SUMMARY_TABLES}




@pytest.fixture
def written(nets, tmp_path):
    return written_tables(nets, tmp_path)


def solid_line(ax, colour):
    """x and y of the one solid line drawn in `colour` (seaborn's mean line of one hue level)."""
    lines = [line for line in ax.lines if to_hex(line.get_color()) == to_hex(colour) and line.get_linestyle() == "-"
             and len(line.get_xdata()) > 1]
    assert len(lines) == 1, f"{len(lines)} solid lines in {colour}"
    return np.asarray(lines[0].get_xdata(), dtype=float), np.asarray(lines[0].get_ydata(), dtype=float)


def band(ax, colour) -> pd.DataFrame:
    """The interval band drawn in `colour` (not a shaded region: those are fainter): its lowest and highest
    y at each x (n)."""
    polys = [c for c in ax.collections if len(c.get_paths()) and to_hex(c.get_facecolor()[0]) == to_hex(colour)
             and c.get_alpha() == plots.BAND["alpha"]]
    assert len(polys) == 1, f"{len(polys)} bands in {colour}"
    xy = pd.DataFrame(np.vstack([path.vertices for path in polys[0].get_paths()]), columns=["x", "y"])
    return xy.groupby(xy["x"].round(6))["y"].agg(["min", "max"])


def assert_drawn(ax, colour, rows, x="n"):
    """The line and band in `colour` are the table rows' mean and 95% interval (written rounded to 4
    decimals, drawn from the cluster values)."""
    rows = rows.sort_values(x)
    line_x, line_y = solid_line(ax, colour)
    assert line_x.tolist() == rows[x].astype(float).tolist()
    assert line_y == pytest.approx(rows["mean"].to_numpy(), abs=6e-5)
    with_interval = rows.dropna(subset=["ci95_low"])
    if len(with_interval):
        drawn = band(ax, colour).loc[with_interval[x].astype(float)]
        assert drawn["min"].to_numpy() == pytest.approx(with_interval["ci95_low"].to_numpy(), abs=6e-5)
        assert drawn["max"].to_numpy() == pytest.approx(with_interval["ci95_high"].to_numpy(), abs=6e-5)


def effect_rows(effects, effect, split_kind="random", target=""):
    return effects[(effects["effect"] == effect) & (effects["split_kind"] == split_kind) & (effects["target"] == target)]


def layer_rows(per_layer, treatment, split_kind="random", target=""):
    return per_layer[(per_layer["treatment"] == treatment) & (per_layer["split_kind"] == split_kind)
                     & (per_layer["target"] == target)]


def test_figure2_bottom_draws_each_difference_from_base_with_its_interval(nets, written):
    fig = plots.figure2_bottom(nets, written["findings"], context=CONTEXT)
    ax = fig.axes[0]
    effects = written["effects"]
    for treatment, effect in (("selffer", "co_adaptation"), ("transfer", "transfer_drop")):
        assert_drawn(ax, plots.STYLE[treatment]["color"], effect_rows(effects, effect))
    assert ax.get_ylabel() == "Top-1 minus its base net's (mean, 95% t interval)"
    assert "95% t interval over 2 clusters" in fig.get_suptitle()
    low, high = ax.get_ylim()  # from the data, with a small margin
    drawn = effects[effects["effect"].isin(["co_adaptation", "transfer_drop"]) & (effects["split_kind"] == "random")]
    span = drawn["ci95_high"].max() - drawn["ci95_low"].min()
    assert drawn["ci95_low"].min() - 0.1 * span < low < drawn["ci95_low"].min()
    assert drawn["ci95_high"].max() < high < drawn["ci95_high"].max() + 0.1 * span


def test_figure2_bottom_numbers_only_reproduced_findings_and_lists_the_others(nets, written):
    findings = written["findings"]
    outcomes = findings.set_index("finding")["outcome"]
    assert outcomes["4"] == "reproduced" and outcomes["2"] == "undetermined"  # no middle layer below the top
    fig = plots.figure2_bottom(nets, findings, context=CONTEXT)
    assert texts(fig) == ["4"]  # the reproduced finding's region is numbered
    entries = legend_texts(fig.axes[0].get_legend())
    assert entries[:3] == ["baseB: 0 by definition", "selffer BnB", "transfer AnB"]
    assert "finding 2: undetermined" in entries
    assert "finding 4, reproduced: performance drop due to representation specificity" in entries
    without = plots.figure2_bottom(nets, context=CONTEXT)
    assert texts(without) == [] and "finding 4: not run" in legend_texts(without.axes[0].get_legend())
    both = pd.concat([nets, pd.DataFrame([net("transfer", 1, 0.6, target="A")])])
    pooled = plots.figure2_bottom(both, analysis.summarize(both)["findings"])
    assert legend_texts(pooled.axes[0].get_legend())[:3] == [
        "base (baseA, baseB): 0 by definition", "selffer (BnB, AnA)", "transfer (AnB, BnA)"]


def test_figure2_bottom_of_the_paper_numbers_its_findings_at_different_layers():
    paper = analysis.paper_nets()
    fig = plots.figure2_bottom(paper, analysis.summarize(paper)["findings"], plots.paper_effects())
    numbers = fig.axes[0].texts
    assert sorted(t.get_text() for t in numbers) == ["2", "3", "4"]
    assert len({t.get_position()[0] for t in numbers}) == 3  # never two at one n
    assert "finding 5: not shown" in legend_texts(fig.axes[0].get_legend())  # AnB+ beats BnB+ by +0.0008 only
    assert plots.PAPER_LABEL == "Yosinski et al. 2014 (ImageNet), relative to its base"
    assert plots.PAPER_LABEL in legend_texts(fig.axes[0].get_legend())


def test_figure2_top_one_marker_per_net_in_each_target_half(nets):
    both = pd.concat([nets, pd.DataFrame([net("transfer", 1, 0.6, target="A")])])
    fig = plots.figure2_top(both, context=CONTEXT)
    half_a, half_b = fig.axes
    assert half_a.get_title() == "target half A of each random split"
    assert legend_texts(half_a.get_legend()) == ["baseA", "BnA"]  # the transfer to A is BnA, its base baseA
    assert legend_texts(half_b.get_legend()) == ["baseB", "BnB", "AnB"]
    random_b = both[(both["split_kind"] == "random") & (both["target"] == "B") & both["images_per_class"].isna()
                    & (both["treatment"] != "random_frozen")]
    drawn = np.vstack([c.get_offsets() for c in half_b.collections if len(c.get_offsets())])
    assert sorted(drawn[:, 1]) == pytest.approx(sorted(random_b["top1"]))  # every net, once
    assert np.all(np.abs(drawn[:, 0] - np.round(drawn[:, 0])) < 0.45)  # beside its own n
    assert sorted(np.round(drawn[:, 0])) == sorted(random_b["n"])
    assert fig.get_suptitle() == "synthetic, small net, 3 epochs, one marker per net, 2 clusters (random split x seed)"


def test_figure2_top_paper_overlay_is_relative_to_our_base(nets):
    ax = plots.figure2_top(nets, paper=analysis.paper_per_layer()).axes[0]
    assert plots.PAPER_LABEL in legend_texts(ax.get_legend())
    paper = analysis.paper_per_layer().query("split_kind == 'random' and target == ''")
    paper_base = paper.query("treatment == 'base'")["mean"].item()
    ours = nets.query("treatment == 'base' and target == 'B' and split_kind == 'random'")["top1"]
    ours = ours[nets["images_per_class"].isna()].mean()
    transfer = paper.query("treatment == 'transfer'").sort_values("n")
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"
              and to_hex(line.get_color()) == plots.STYLE["transfer"]["color"]]
    assert dashed[0].get_ydata() == pytest.approx(ours + transfer["mean"].to_numpy() - paper_base)


def test_figure3_draws_the_tables_means_and_intervals(nets, written):
    fig = plots.figure3(nets, written["findings"], context=CONTEXT)
    dissimilar, frozen, differences = fig.axes
    per_layer, effects = written["per_layer"], written["effects"]
    for colour, target in zip(plots.DIRECTION_COLOURS, "AB"):
        rows = per_layer[(per_layer["split_kind"] == "dissimilar") & (per_layer["target"] == target)]
        assert_drawn(dissimilar, colour, rows[rows["treatment"].isin(["base", "transfer"])])
    assert legend_texts(dissimilar.get_legend()) == ["to garments from footwear and bags",
                                                     "to footwear and bags from garments"]
    frozen_rows = pd.concat([layer_rows(per_layer, "base"), layer_rows(per_layer, "random_frozen")])
    assert_drawn(frozen, plots.STYLE["random_frozen"]["color"], frozen_rows)
    assert_drawn(differences, plots.STYLE["transfer"]["color"], effect_rows(effects, "transfer_drop"))
    assert_drawn(differences, plots.DISSIMILAR_POOLED, effect_rows(effects, "transfer_drop", "dissimilar"))
    assert_drawn(differences, plots.STYLE["random_frozen"]["color"], effect_rows(effects, "random_frozen_drop"))
    assert plots.DISSIMILAR_POOLED not in plots.DIRECTION_COLOURS  # one colour, one meaning
    assert "4.2: " in differences.get_title()


def test_figure3_says_not_run(nets):
    random_only = nets[(nets["split_kind"] == "random") & (nets["treatment"] != "random_frozen")]
    summary = analysis.summarize(random_only)
    fig = plots.figure3(random_only, summary["findings"], paper_effects=plots.paper_effects())
    assert sorted(texts(fig)) == ["a split marked dissimilar: not run", "random frozen layers: not run"]
    assert plots.PAPER_LABEL in legend_texts(fig.axes[2].get_legend())


def test_reduced_data_curve_draws_the_tables_means_and_intervals(nets, written):
    fig = plots.reduced_data_curve(nets, paper=analysis.paper_nets(), context=CONTEXT)
    ax = fig.axes[0]
    assert_drawn(ax, sns_dark(0), written["reduced_data"], x="images_per_class")
    assert len(ax.collections[0].get_offsets()) == 4  # one marker per net
    full = layer_rows(written["per_layer"], "base")["mean"].item()  # nothing targets A: baseB's level
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == ":"] == pytest.approx([full], abs=6e-5)
    assert ax.get_xscale() == "log"
    assert "over 1 clusters (split x seed) per point" in fig.get_suptitle()


def sns_dark(i):
    import seaborn as sns
    return sns.color_palette("dark")[i]


def test_empty_tables_draw_not_run(nets):
    empty = nets.iloc[:0]
    findings = analysis.summarize(empty)["findings"]
    figures = [plots.figure2_top(empty), plots.figure2_bottom(empty, findings), plots.figure3(empty, findings),
               plots.reduced_data_curve(empty)]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert any("not run" in text for text in texts(fig))


def test_draw_and_save_leave_no_global_style_and_rerun_identically(nets, written, tmp_path):
    params = dict(matplotlib.rcParams)
    random_state = np.random.get_state()[1].copy()
    for name in plots.FIGURES:
        for folder in ("first", "second"):
            fig = plots.draw(name, nets, written, context=CONTEXT, paper=True)
            (tmp_path / folder).mkdir(exist_ok=True)
            plots.save(fig, tmp_path / folder / f"{name}.pdf", dpi=60)
        assert (tmp_path / "first" / f"{name}.pdf").read_bytes() == (tmp_path / "second" / f"{name}.pdf").read_bytes()
    assert dict(matplotlib.rcParams) == params  # no global style leaks
    assert (np.random.get_state()[1] == random_state).all()  # nor the jitter's seed
    with pytest.raises(ValueError, match="unknown figure"):
        plots.draw("figure9", nets, written)


# ---- no two texts collide, in every figure of the default and of each preset ---------------------------

def planned_nets(config, rng) -> pd.DataFrame:
    """nets.csv as the config's run could write it: every net it plans, with a plausible top-1."""
    kinds = plan.split_kinds(config)
    level = {}
    rows = []
    for split, seed, name in plan.all_nets(config):
        spec = analysis_spec(name)
        base = level.setdefault((split, seed, spec.target), rng.uniform(0.6, 0.9))
        drop = {"base": 0, "selffer": -0.004, "selffer_ft": 0.004, "transfer": -0.012 * spec.n,
                "transfer_ft": 0.006, "transfer_ft_lowlr": 0.005, "random_frozen": -0.06 * spec.n}[spec.treatment]
        if spec.images_per_class:
            drop = -3 / np.sqrt(spec.images_per_class)
        rows.append(dict(dataset=config["dataset"]["kind"], split=split, split_kind=kinds[split], seed=seed,
                         net=name, treatment=spec.treatment, source=spec.source, target=spec.target, n=spec.n,
                         fine_tuned=spec.fine_tuned, images_per_class=spec.images_per_class or np.nan,
                         top1=float(np.clip(base + drop + rng.normal(0, 0.01), 0.02, 0.99)), top5=np.nan,
                         epochs=config["train"]["epochs"]))
    return pd.DataFrame(rows)


def analysis_spec(name):
    from transferability.nets import parse_net
    return parse_net(name)


def planned_epochs(nets, epochs=3) -> pd.DataFrame:
    rows = [dict(row, epoch=e, val_top1=row["top1"] - 0.05 * (epochs - e)) for row in nets.to_dict("records")
            for e in range(1, epochs + 1)]
    return pd.DataFrame(rows)


def drawn_texts(fig):
    """Every text drawn: suptitle, titles, axis and tick labels (of ticks in view), annotations, legends."""
    found = [fig._suptitle] if fig.get_suptitle() else []
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if legend is not None:
            found += [*legend.get_texts(), legend.get_title()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        found += [ax.title, ax._left_title, ax._right_title, *ax.texts, ax.xaxis.label, ax.yaxis.label]
        for ticks, labels, limits in ((ax.get_xticks(), ax.get_xticklabels(), ax.get_xlim()),
                                      (ax.get_yticks(), ax.get_yticklabels(), ax.get_ylim())):
            found += [label for tick, label in zip(ticks, labels) if min(limits) <= tick <= max(limits)]
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def collisions(fig) -> list[str]:
    """Pairs of drawn texts whose boxes overlap by more than a pixel each way, and texts off the figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    page = fig.bbox
    found = [f"{text!r} off the figure" for text, box in boxes
             if box.x0 < page.x0 - 1 or box.y0 < page.y0 - 1 or box.x1 > page.x1 + 1 or box.y1 > page.y1 + 1]
    for i, (first, a) in enumerate(boxes):
        for second, b in boxes[i + 1:]:
            if min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1:
                found.append(f"{first!r} overlaps {second!r}")
    return found


CONFIGS = ["config.yaml", "config/cifar10.yaml", "config/cifar100.yaml", "config/imagenet.yaml",
           "config/resnet18_cifar10.yaml"]


@pytest.mark.parametrize("config_file", CONFIGS)
def test_no_text_collides_in_any_figure_of_a_preset(config_file):
    config = load_config(ROOT / config_file)
    nets = planned_nets(config, np.random.default_rng(0))
    summary = analysis.summarize(nets)
    context = plan.figure_context(config)
    drawn = {name: plots.draw(name, nets, summary, context, plan.paper_overlay(config))
             for name in plan.figure_names(config)}
    drawn["training_curves"] = curves.training_curves_figure(planned_epochs(nets), context)
    units = measures.layer_measure_units(nets, None, None, plan.split_kinds(config))
    drawn["layer_measures"] = layer_figures.layer_measures_figure(
        units, measures.rank_correlations(measures.summarise(units, ["group", "measure", "n"], "value")))
    for name, fig in drawn.items():
        assert collisions(fig) == [], name


def test_the_collision_check_sees_a_collision():
    fig = Figure()
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.52, 0.5, "another")
    ax.set_title("x" * 300)  # wider than the figure
    found = collisions(fig)
    assert "'one label' overlaps 'another'" in found and any("off the figure" in f for f in found)


def test_the_paper_comparison_reads_the_written_per_layer_table(nets, tmp_path):
    written_tables(nets, tmp_path)
    per_layer = tables.read_table(tmp_path / "per_layer.csv")
    tables.write_csv(per_layer.assign(mean=per_layer["mean"] + 0.0123), tmp_path / "per_layer.csv")
    out = tmp_path / "paper_comparison.csv"
    assert cli.main(["paper-comparison", "--per-layer", str(tmp_path / "per_layer.csv"), "--out", str(out)]) == 0
    compared = tables.read_table(out)
    ours = compared.dropna(subset=["ours"]).merge(per_layer, on=["split_kind", "treatment", "n"])
    assert len(ours) and (ours["ours"] - ours["mean"]).round(4).eq(0.0123).all()


def test_no_text_collides_in_the_comparison_of_two_default_runs():
    from transferability import compare

    config = load_config(ROOT / "config.yaml")
    units = {f"run{seed}": analysis.unit_effects(planned_nets(config, np.random.default_rng(seed))) for seed in (1, 2)}
    assert collisions(compare.comparison_figure(compare.compare_runs(units), units)) == []


def test_the_freezing_figure_draws_the_tables_means_and_the_answers_test(tmp_path):
    """Left: AnB's and AnB+'s lines and bands are per_layer.csv's; right: each n's cost and upper bound are
    those of the test behind freezing.csv, whose answer is the title and whose layers are shaded."""
    config = load_config(ROOT / "config.yaml")
    nets = planned_nets(config, np.random.default_rng(5))
    written = written_tables(nets, tmp_path)
    answer = written["freezing"].iloc[0]
    fig = plots.draw("freezing", nets, written, plan.figure_context(config))
    levels, costs = fig.axes
    for treatment in ("transfer", "transfer_ft"):
        assert_drawn(levels, plots.STYLE[treatment]["color"], layer_rows(written["per_layer"], treatment))
    units = analysis.per_layer_units(nets)
    _, tests = freezing.layer_tests(units[units["treatment"].isin(["transfer", "transfer_ft"])
                                          & (units["group"] == "random")])
    tests = tests.droplevel([name for name in tests.index.names if name != "n"])
    bars = costs.containers[0]
    assert bars.lines[0].get_ydata() == pytest.approx(tests["cost"].to_numpy())
    upper = [segment[:, 1].max() for segment in bars.lines[2][0].get_segments()]
    assert upper == pytest.approx(tests["bound"].to_numpy())
    assert answer["answer"].split(":")[0] in fig.get_suptitle().replace("\n", " ")
    if answer["outcome"] == "shown":
        shaded = [p for p in costs.patches if p.get_x() == 0.5]
        assert shaded and shaded[0].get_width() == answer["deepest_n"]


def test_the_freezing_figure_draws_the_random_splits_answer_where_there_are_several(tmp_path):
    """cifar10's dissimilar split also runs AnB+: freezing.csv answers for it first (its rows sort first), and
    the figure still draws the random splits' answer, named in its subtitle."""
    config = load_config(ROOT / "config/cifar10.yaml")
    nets = planned_nets(config, np.random.default_rng(6))
    written = written_tables(nets, tmp_path)
    assert written["freezing"]["group"].tolist()[-1] == "random" and len(written["freezing"]) > 1
    fig = plots.draw("freezing", nets, written, plan.figure_context(config))
    assert "random splits: mean, 95% t interval over 4 clusters" in fig._supxlabel.get_text()
    random = written["freezing"].query("group == 'random'").iloc[0]
    assert random["answer"].split(":")[0][:40] in fig.get_suptitle().replace("\n", " ")
