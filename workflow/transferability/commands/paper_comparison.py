"""our per-layer means next to the paper's"""

from pathlib import Path
from typing import Annotated


def run(*, per_layer: Annotated[Path, "per_layer.csv of the summarize command"], out: Path) -> None:
    from .. import analysis, tables

    comparison = analysis.compare_with_paper(tables.read_table(per_layer), analysis.paper_per_layer())
    tables.write_csv(comparison, out, decimals=4)
