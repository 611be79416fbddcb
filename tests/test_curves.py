"""Tests of the training curves: the epochs table of every net (tables.collect_epochs), its summary over
units per epoch (analysis.training_curves) and the figure, whose lines and bands are the table's."""

import json

import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.colors import to_hex

from transferability import analysis, cli, curves, tables

CONTEXT = {"dataset": "synthetic", "model": "small", "training": "3 epochs"}


def write_net(root, split, seed, net, treatment, target, n, top1s, images_per_class=None):
    """A finished net's folder: metrics.json and epochs.csv, as a training job leaves them."""
    folder = root / split / f"seed{seed}" / net
    folder.mkdir(parents=True)
    metrics = dict(dataset="synthetic", split=split, seed=seed, net=net, treatment=treatment, source="", target=target,
                   n=n, fine_tuned=False, images_per_class=images_per_class, top1=top1s[-1])
    (folder / "metrics.json").write_text(json.dumps(metrics))
    epochs = pd.DataFrame({"epoch": range(1, len(top1s) + 1), "lr": 0.01, "val_top1": top1s, "val_top5": 1.0})
    epochs.to_csv(folder / "epochs.csv", index=False)
    return folder / "metrics.json"


@pytest.fixture
def metrics(tmp_path):
    """Two random splits' baseB and A1B (three epochs), one split's baseA (not targeted: left out), and a
    reduced-data net (left out)."""
    paths = []
    for split, shift in (("random0", 0.0), ("random1", 0.02)):
        paths += [write_net(tmp_path, split, 0, "baseB", "base", "B", 0, [0.5 + shift, 0.6 + shift, 0.65 + shift]),
                  write_net(tmp_path, split, 0, "A1B", "transfer", "B", 1, [0.4 + shift, 0.5 + shift, 0.6 + shift])]
    paths += [write_net(tmp_path, "random0", 0, "baseA", "base", "A", 0, [0.1, 0.1, 0.1]),
              write_net(tmp_path, "random0", 0, "baseB_k10", "base", "B", 0, [0.2, 0.2, 0.2], images_per_class=10)]
    return paths


def test_collect_epochs_names_every_row_by_its_net(metrics):
    table = tables.collect_epochs(metrics, {"random0": "random", "random1": "random"})
    assert len(table) == 6 * 3
    assert list(table.columns[:len(tables.NET_COLUMNS)]) == tables.NET_COLUMNS
    a1b = table[(table["net"] == "A1B") & (table["split"] == "random1")]
    assert a1b["epoch"].tolist() == [1, 2, 3] and a1b["val_top1"].tolist() == pytest.approx([0.42, 0.52, 0.62])
    assert (a1b["split_kind"] == "random").all() and (a1b["n"] == 1).all()


def test_training_curves_are_means_over_units_per_epoch(metrics):
    table = analysis.training_curves(tables.collect_epochs(metrics, {"random0": "random", "random1": "random"}))
    assert set(table["treatment"]) == {"base", "transfer"}, "baseA (not a reference) and reduced nets left out"
    transfer = table[table["treatment"] == "transfer"].set_index("epoch")
    assert transfer["units"].tolist() == [2, 2, 2] and (transfer["split"] == "random").all()
    assert transfer["mean"].tolist() == pytest.approx([0.41, 0.51, 0.61])
    assert transfer["sem"].tolist() == pytest.approx([0.01] * 3)
    one = analysis.training_curves(tables.collect_epochs(metrics[:2], {"random0": "random"}))
    assert one[["std", "sem", "ci95_low"]].isna().all().all(), "one unit: no spread, not 0"


def test_the_command_writes_the_table_and_draws_it(metrics, tmp_path):
    epochs = tmp_path / "epochs.csv"
    tables.write_csv(tables.collect_epochs(metrics, {"random0": "random", "random1": "random"}), epochs)
    out = [tmp_path / "training_curves.png", tmp_path / "training_curves.pdf"]
    assert cli.main(["training-curves", "--epochs", str(epochs), "--table", str(tmp_path / "curves.csv"),
                     "--context", json.dumps(CONTEXT), "--dpi", "50", "--out", *map(str, out)]) == 0
    assert out[0].read_bytes().startswith(b"\x89PNG") and out[1].read_bytes().startswith(b"%PDF")
    written = tables.read_table(tmp_path / "curves.csv")
    ax = curves.training_curves_figure(tables.read_nets(epochs), CONTEXT).axes[0]
    assert ax.get_title() == "transfer AnB"
    base, transfer = (written[written["treatment"] == t].sort_values("epoch") for t in ("base", "transfer"))
    for colour, rows in (("black", base), (sns.color_palette("viridis", 1)[0], transfer)):
        line = [line for line in ax.lines if to_hex(line.get_color()) == to_hex(colour)][0]
        assert line.get_xdata().tolist() == rows["epoch"].tolist()
        assert line.get_ydata() == pytest.approx(rows["mean"].to_numpy(), abs=6e-5)  # the table's means
        band = [c for c in ax.collections if to_hex(c.get_facecolor()[0]) == to_hex(colour)][0]
        xy = pd.DataFrame(np.vstack([p.vertices for p in band.get_paths()]), columns=["x", "y"]).groupby("x")["y"]
        assert xy.min().to_numpy() == pytest.approx(rows["ci95_low"].to_numpy(), abs=6e-5)  # and intervals
        assert xy.max().to_numpy() == pytest.approx(rows["ci95_high"].to_numpy(), abs=6e-5)


def test_without_random_splits_the_first_split_is_drawn_and_named(metrics):
    table = tables.collect_epochs(metrics, {"random0": "explicit", "random1": "explicit"})
    fig = curves.training_curves_figure(table, CONTEXT)
    assert "split random0, target half B" in fig.get_suptitle()
    assert "random splits (their target halves pooled)" in curves.training_curves_figure(
        tables.collect_epochs(metrics, {"random0": "random"}), CONTEXT).get_suptitle()
    empty = curves.training_curves_figure(table.iloc[:0], CONTEXT)
    assert any("not run" in t.get_text() for ax in empty.axes for t in ax.texts)
    assert np.isnan(analysis.training_curves(table)["sem"]).all()  # one cluster: no interval
