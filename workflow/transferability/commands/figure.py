"""draw one figure"""

from pathlib import Path
from typing import Annotated, Literal

from ..outputs import FIGURE_TABLES, FIGURES


def run(name: Literal[FIGURES], *, nets: Annotated[Path, "nets.csv of the collect command"],
        tables: Annotated[list[Path], f"the summarize command's {', '.join(FIGURE_TABLES)} (.csv)"],
        context: Annotated[dict, 'JSON: {"model": ..., "training": ..., "halves": {split: {"A": name, "B": name}}}'] = {},
        paper: Annotated[bool, "draw the paper's values faintly beside ours"] = False,
        dpi: int = 200, out: list[Path]) -> None:
    from .. import plots
    from ..tables import read_nets, read_table

    written = {path.stem: read_table(path) for path in tables}
    if missing := [table for table in FIGURE_TABLES if table not in written]:
        raise ValueError(f"figure {name} draws {', '.join(FIGURE_TABLES)}: --tables lacks {', '.join(missing)}.csv")
    fig = plots.draw(name, read_nets(nets), written, context=context, paper=paper)
    for path in out:
        plots.save(fig, path, dpi=dpi)
