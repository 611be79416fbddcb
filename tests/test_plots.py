"""Tests of the figures (transferability.plots): what is drawn, saving, and missing data."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from transferability import analysis, plots


def net(treatment, n, top1, split_kind="random", target="B", images_per_class=np.nan):
    return dict(split_kind=split_kind, treatment=treatment, n=n, target=target, top1=top1, top5=np.nan,
                images_per_class=images_per_class)


@pytest.fixture
def nets():
    """Random split: 2 base, 4 selffer, 4 transfer nets (no fine-tuned ones); explicit split with
    both directions; random frozen nets; reduced-data nets with 2 seeds at 2 sizes."""
    rows = [net("base", 0, 0.70, target="A"), net("base", 0, 0.72)]
    for n in (1, 2):
        rows += [net("selffer", n, 0.69 - 0.02 * n), net("selffer", n, 0.68 - 0.02 * n),
                 net("transfer", n, 0.65 - 0.03 * n), net("transfer", n, 0.64 - 0.03 * n)]
    for half, level in (("A", 0.8), ("B", 0.6)):
        rows += [net("base", 0, level, "explicit", half)]
        rows += [net("transfer", n, level - 0.1 * n, "explicit", half) for n in (1, 2, 3)]
    rows += [net("random_frozen", n, 0.3) for n in (1, 2)]
    rows += [net("base", 0, acc, images_per_class=k) for k, acc in ((10, 0.2), (10, 0.3), (100, 0.5), (100, 0.6))]
    return pd.DataFrame(rows)


def points(collection):
    return len(collection.get_offsets())


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_figure2_top_one_marker_per_net(nets):
    fig = plots.figure2_top(nets)
    ax = fig.axes[0]
    assert [points(c) for c in ax.collections] == [2, 4, 4]  # base, selffer, transfer; no "+" nets
    assert ax.get_xlabel() == plots.XLABEL and ax.get_ylabel() == plots.YLABEL
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["baseB", "selffer BnB", "transfer AnB"]
    x = ax.collections[1].get_offsets()[:, 0]
    assert np.all(np.abs(x - np.round(x) - plots.STYLE["selffer"]["offset"]) <= plots.JITTER)
    with_paper = plots.figure2_top(nets, paper=analysis.paper_per_layer())
    assert len(with_paper.axes[0].lines) == 5  # one faint line per paper treatment
    assert plots.PAPER_LABEL in [t.get_text() for t in with_paper.legends[0].get_texts()]


def test_figure2_bottom_lines_and_labelled_regions(nets):
    per_layer = analysis.per_layer_table(nets)
    fig = plots.figure2_bottom(per_layer, analysis.effects_table(per_layer))
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # selffer and transfer means + the base level
    assert [len(line.get_xdata()) for line in ax.lines[:2]] == [3, 3]  # n = 0 (base), 1, 2
    labels = texts(fig)
    assert len(labels) == 2 and labels[0].startswith("2: performance drop") and labels[1].startswith("4:")
    paper = analysis.paper_per_layer()
    with_paper = plots.figure2_bottom(paper, analysis.effects_table(paper), paper=paper)
    assert len(with_paper.axes[0].lines) == 5 + 4 + 1
    assert sorted(label[0] for label in texts(with_paper)) == ["2", "3", "4", "5"]


def test_figure3_panels(nets):
    fig = plots.figure3(nets, analysis.per_layer_table(nets))
    dissimilar, frozen, differences = fig.axes
    assert [points(c) for c in dissimilar.collections] == [1, 3, 1, 3]  # per half: base, transfers
    assert [points(c) for c in frozen.collections] == [2, 2]  # the random split's bases, frozen nets
    assert len(differences.lines) == 4  # random transfer, explicit mean, random frozen, zero line
    assert differences.lines[1].get_ydata()[-1] == pytest.approx(-0.3)
    assert not texts(fig)


def test_figure3_says_not_run(nets):
    random_only = nets[(nets["split_kind"] == "random") & (nets["treatment"] != "random_frozen")]
    fig = plots.figure3(random_only, analysis.per_layer_table(random_only), paper=analysis.paper_per_layer())
    assert sorted(texts(fig)) == ["explicit (dissimilar) split: not run", "random frozen layers: not run"]
    assert len(fig.axes[2].lines) == 1 + 3 + 1  # ours, the paper's three, zero line


def test_reduced_data_curve(nets):
    fig = plots.reduced_data_curve(nets, paper=analysis.paper_nets())
    ax = fig.axes[0]
    assert points(ax.collections[0]) == 4
    mean, full, paper = ax.lines
    assert mean.get_ydata().tolist() == pytest.approx([0.25, 0.55])
    assert full.get_ydata()[0] == pytest.approx(0.71)  # full-data base nets of the same split kind
    assert len(paper.get_xdata()) == 12
    assert ax.get_xscale() == "log"


def test_empty_tables_draw_not_run(nets):
    empty = nets.iloc[:0]
    per_layer = analysis.per_layer_table(empty)
    figures = [plots.figure2_top(empty), plots.figure2_bottom(per_layer, analysis.effects_table(per_layer)),
               plots.figure3(empty, per_layer), plots.reduced_data_curve(empty)]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert any("not run" in text for text in texts(fig))


def test_draw_and_save(nets, tmp_path):
    font_size = matplotlib.rcParams["font.size"]
    for name in ("figure2_top", "figure2_bottom", "figure3", "reduced_data"):
        fig = plots.draw(name, nets, paper=True)
        for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
            path = tmp_path / f"{name}{suffix}"
            plots.save(fig, path, dpi=60)
            assert path.read_bytes().startswith(magic)
    assert matplotlib.rcParams["font.size"] == font_size  # no global style leaks
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["figure2_bottom.pdf", "figure2_bottom.png"]
    with pytest.raises(ValueError, match="unknown figure"):
        plots.draw("figure9", nets)
