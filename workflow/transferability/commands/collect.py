"""one tidy table of all trained nets"""

from pathlib import Path
from typing import Annotated


def run(metrics: Annotated[list[Path], "the nets' metrics.json"], *,
        split_kinds: Annotated[dict, 'JSON: {"split": "random" | "explicit"}'], out: Path) -> None:
    from .. import tables

    tables.write_csv(tables.collect_metrics(metrics, split_kinds), out)
