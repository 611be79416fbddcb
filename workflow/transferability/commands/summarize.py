"""per-layer means, effects and the paper's findings

Writes each summary table (outputs.SUMMARY_TABLES) as <name>.csv into --out-dir."""

from pathlib import Path
from typing import Annotated


def run(*, nets: Annotated[Path, "nets.csv of the collect command"],
        out_dir: Annotated[Path, "the folder of the run's tables"]) -> None:
    from .. import analysis, tables

    summary = analysis.summarize(tables.read_nets(nets))
    for name, table in summary.items():
        # the per-unit values keep more digits: the compare command's intervals are computed from them
        tables.write_csv(table, out_dir / f"{name}.csv", decimals=6 if name == "unit_effects" else 4)
    for row in summary["findings"].itertuples():
        print(f"finding {row.finding}: {row.outcome} ({row.why})")
    for row in summary["freezing"].itertuples():
        print(f"units of A to freeze ({row.group}{' ' + row.target if row.target else ''}): {row.answer}")
