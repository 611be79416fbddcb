"""validation top-1 per epoch by treatment and n: table and figure"""

from pathlib import Path
from typing import Annotated


def run(*, epochs: Annotated[Path, "the collect-epochs table"],
        table: Annotated[Path, "where to write the curves' table (the figure draws it)"],
        context: Annotated[dict, 'JSON: {"dataset": ..., "model": ..., "training": ...}'] = {},
        dpi: int = 200, out: list[Path]) -> None:
    from .. import analysis, curves, plots, tables

    every_epoch = tables.read_nets(epochs)
    tables.write_csv(analysis.training_curves(every_epoch), table, decimals=4)
    fig = curves.training_curves_figure(every_epoch, context)  # the table's means and intervals
    for path in out:
        plots.save(fig, path, dpi=dpi)
