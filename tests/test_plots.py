"""Tests of the figures (transferability.plots): what is drawn, what is claimed, saving, missing data."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from transferability import analysis, cli, plots, tables

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


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_figure2_top_one_panel_per_target_half_with_each_net_named(nets):
    both = pd.concat([nets, pd.DataFrame([net("transfer", 1, 0.6, target="A")])])
    fig = plots.figure2_top(both, context=CONTEXT)
    half_a, half_b = fig.axes
    assert half_a.get_title() == "target half A of each random split"
    assert legend_texts(half_a) == ["baseA", "BnA"]  # the transfer to A is BnA, its base baseA
    assert legend_texts(half_b) == ["baseB", "BnB", "AnB"]
    assert [points(c) for c in half_b.collections] == [2, 4, 4]  # one marker per net
    x = half_b.collections[1].get_offsets()[:, 0]
    assert np.all(np.abs(x - np.round(x) - plots.STYLE["selffer"]["offset"]) <= plots.JITTER)
    assert fig.get_suptitle() == ("synthetic, small net, 3 epochs, 3 unit(s): 1 random split(s) x 2 seed(s) "
                                  "x 2 target half(s)")
    with_paper = plots.figure2_top(nets, paper=analysis.paper_per_layer())
    paper_lines = with_paper.axes[0].lines
    assert len(paper_lines) == 5  # the paper's base level and its four treatments
    base_level = nets[(nets["treatment"] == "base") & (nets["target"] == "B") & (nets["split_kind"] == "random")
                      & nets["images_per_class"].isna()]["top1"].mean()
    assert paper_lines[0].get_ydata()[0] == pytest.approx(base_level)  # drawn relative to our base


def test_figure2_bottom_labels_only_reproduced_findings(nets, summary):
    per_layer, effects, findings = summary["per_layer"], summary["effects"], summary["findings"]
    fig = plots.figure2_bottom(per_layer, effects, findings, nets=nets, context=CONTEXT)
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # selffer and transfer means + the base level
    assert [len(line.get_xdata()) for line in ax.lines[:2]] == [3, 3]  # n = 0 (base), 1, 2
    outcomes = findings.set_index("finding")["outcome"]
    assert outcomes["4"] == "reproduced" and outcomes["2"] == "undetermined"  # no middle layer below the top
    labels = texts(fig)
    assert [t for t in labels if t.startswith("4:")], "the reproduced finding is labelled"
    assert not [t for t in labels if t.startswith("2:")], "a finding not reproduced gets no arrow"
    assert "2: undetermined" in labels[-1]
    assert fig.get_suptitle().startswith("synthetic, small net")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["baseB", "selffer BnB", "transfer AnB"]
    both = pd.concat([nets, pd.DataFrame([net("transfer", 1, 0.6, target="A")])])
    both_summary = analysis.summarize(both)
    pooled = plots.figure2_bottom(both_summary["per_layer"], both_summary["effects"], both_summary["findings"],
                                  nets=both)
    assert [t.get_text() for t in pooled.legends[0].get_texts()] == [
        "base (baseA, baseB)", "selffer (BnB, AnA)", "transfer (AnB, BnA)"]


def test_figure2_bottom_of_the_paper_labels_all_its_findings():
    summary = analysis.summarize(analysis.paper_nets())
    per_layer, effects, findings = summary["per_layer"], summary["effects"], summary["findings"]
    fig = plots.figure2_bottom(per_layer, effects, findings, paper=analysis.paper_per_layer())
    assert len(fig.axes[0].lines) == 5 + 4 + 1
    assert sorted(label[0] for label in texts(fig)) == ["2", "3", "4", "n"]  # and the note on what is not
    assert "5: not shown" in texts(fig)[-1]  # its AnB+ beats BnB+ by +0.0008 only


def test_figure2_bottom_without_findings_labels_nothing(nets, summary):
    fig = plots.figure2_bottom(summary["per_layer"], summary["effects"])
    assert not [t for t in texts(fig) if t[:2] in ("2:", "3:", "4:", "5:")]


def test_figure3_names_the_dissimilar_halves_and_draws_effects_from_the_table(nets, summary):
    per_layer, effects, findings = summary["per_layer"], summary["effects"], summary["findings"]
    fig = plots.figure3(nets, per_layer, effects, findings, context=CONTEXT)
    dissimilar, frozen, differences = fig.axes
    assert [points(c) for c in dissimilar.collections] == [1, 3, 1, 3]  # per half: base, transfers
    assert legend_texts(dissimilar) == ["to garments from footwear and bags (its base at n = 0)",
                                        "to footwear and bags from garments (its base at n = 0)"]
    assert [points(c) for c in frozen.collections] == [2, 4]  # the bases of their halves, frozen nets
    assert len(differences.lines) == 4  # random transfer, dissimilar, random frozen, zero line
    assert differences.lines[1].get_ydata()[-1] == pytest.approx(-0.3)
    assert "4.2: " in differences.get_title()


def test_figure3_says_not_run(nets):
    random_only = nets[(nets["split_kind"] == "random") & (nets["treatment"] != "random_frozen")]
    summary = analysis.summarize(random_only)
    fig = plots.figure3(random_only, summary["per_layer"], summary["effects"], summary["findings"],
                        paper_effects=plots.paper_effects())
    assert sorted(texts(fig)) == ["a split marked dissimilar: not run", "random frozen layers: not run"]
    assert len(fig.axes[2].lines) == 1 + 3 + 1  # ours, the paper's three, zero line


def test_reduced_data_curve(nets, summary):
    fig = plots.reduced_data_curve(nets, summary["reduced_data"], summary["per_layer"], paper=analysis.paper_nets())
    ax = fig.axes[0]
    assert points(ax.collections[0]) == 4
    mean, full, paper = ax.lines
    assert mean.get_ydata().tolist() == pytest.approx([0.25, 0.55])
    assert full.get_ydata()[0] == pytest.approx(0.722)  # per_layer.csv's baseB (nothing targets A here)
    assert len(paper.get_xdata()) == 12
    assert ax.get_xscale() == "log"


def test_empty_tables_draw_not_run(nets):
    empty = nets.iloc[:0]
    summary = analysis.summarize(empty)
    per_layer, effects, findings = summary["per_layer"], summary["effects"], summary["findings"]
    figures = [plots.figure2_top(empty), plots.figure2_bottom(per_layer, effects, findings),
               plots.figure3(empty, per_layer, effects, findings),
               plots.reduced_data_curve(empty, summary["reduced_data"], per_layer)]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert any("not run" in text for text in texts(fig))


def test_draw_and_save(nets, summary, tmp_path):
    font_size = matplotlib.rcParams["font.size"]
    for name in plots.FIGURES:
        fig = plots.draw(name, nets, summary, context=CONTEXT, paper=True)
        for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
            path = tmp_path / f"{name}{suffix}"
            plots.save(fig, path, dpi=60)
            assert path.read_bytes().startswith(magic)
    assert matplotlib.rcParams["font.size"] == font_size  # no global style leaks
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["figure2_bottom.pdf", "figure2_bottom.png"]
    with pytest.raises(ValueError, match="unknown figure"):
        plots.draw("figure9", nets, summary)


def written_tables(nets, folder):
    """nets.csv and the summary tables as the summarize command writes them, read back as draw reads them."""
    tables.write_csv(nets, folder / "nets.csv")
    options = [arg for name in analysis.SUMMARY_TABLES
               for arg in (f"--{name.replace('_', '-')}", str(folder / f"{name}.csv"))]
    assert cli.main(["summarize", "--nets", str(folder / "nets.csv"), *options]) == 0
    return {name: tables.read_table(folder / f"{name}.csv") for name in analysis.SUMMARY_TABLES}


def test_figures_plot_the_written_tables_values(nets, tmp_path):
    """The means drawn are the written tables' (rounded) values, not a recomputation from nets.csv:
    shifted in the files by an amount no net has, the lines move with them."""
    written = written_tables(nets, tmp_path)
    shifted = {name: table.assign(mean=table["mean"] + 0.0123) if "mean" in table else table
               for name, table in written.items()}
    per_layer, reduced = shifted["per_layer"], shifted["reduced_data"]
    frozen = plots.draw("figure3", nets, shifted, CONTEXT).axes[1]
    means = per_layer[(per_layer["treatment"] == "random_frozen") & (per_layer["split_kind"] == "random")]
    base = per_layer[(per_layer["treatment"] == "base") & (per_layer["split_kind"] == "random")]["mean"]
    assert frozen.lines[0].get_ydata().tolist() == [*base, *means.sort_values("n")["mean"]]
    curve = plots.draw("reduced_data", nets, shifted, CONTEXT).axes[0]
    assert curve.lines[0].get_ydata().tolist() == reduced.sort_values("images_per_class")["mean"].tolist()
    assert curve.lines[1].get_ydata()[0] == base.item()
    bottom = plots.draw("figure2_bottom", nets, shifted, CONTEXT).axes[0]
    transfer = per_layer[(per_layer["treatment"] == "transfer") & (per_layer["split_kind"] == "random")]
    assert bottom.lines[1].get_ydata().tolist() == [*base, *transfer.sort_values("n")["mean"]]
    differences = plots.draw("figure3", nets, shifted, CONTEXT).axes[2]
    effects = shifted["effects"]
    drop = effects[(effects["effect"] == "transfer_drop") & (effects["split_kind"] == "random")
                   & (effects["target"] == "")]
    assert differences.lines[0].get_ydata().tolist() == [0, *drop.sort_values("n")["mean"]]


def test_the_paper_comparison_reads_the_written_per_layer_table(nets, tmp_path):
    written_tables(nets, tmp_path)
    per_layer = tables.read_table(tmp_path / "per_layer.csv")
    tables.write_csv(per_layer.assign(mean=per_layer["mean"] + 0.0123), tmp_path / "per_layer.csv")
    out = tmp_path / "paper_comparison.csv"
    assert cli.main(["paper-comparison", "--per-layer", str(tmp_path / "per_layer.csv"), "--out", str(out)]) == 0
    compared = tables.read_table(out)
    ours = compared.dropna(subset=["ours"]).merge(per_layer, on=["split_kind", "treatment", "n"])
    assert len(ours) and (ours["ours"] - ours["mean"]).round(4).eq(0.0123).all()
