"""one table of every net's epochs (epochs.csv beside metrics.json)"""

from pathlib import Path
from typing import Annotated


def run(metrics: Annotated[list[Path], "the nets' metrics.json"], *,
        split_kinds: Annotated[dict, 'JSON: {"split": "random" | "explicit"}'], out: Path) -> None:
    from .. import tables

    table = tables.collect_epochs(metrics, split_kinds)
    tables.write_csv(table, out)
    print(f"{out}: {len(table)} epochs of {len(metrics)} nets")
