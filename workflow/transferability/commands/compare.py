"""runs' effects per n side by side, with intervals of their differences

Two or more runs' effects per n side by side, with Welch intervals of their differences from the first run.

example: python -m transferability compare results/default results/cifar10 --out comparison"""

from typing import Annotated

LISTED = 2  # a command for runs' results: in the main --help, second


def run(runs: Annotated[list[str], "run folders (each with tables/unit_effects.csv); the first is the reference"],
        *, out: Annotated[str, "folder for comparison.csv, comparison.png and comparison.pdf"],
        dpi: int = 200) -> None:
    from ..compare import run_names, write_comparison

    table = write_comparison(runs, out, dpi=dpi)
    print(f"{out}: comparison.csv ({len(table)} rows), comparison.png and comparison.pdf of "
          f"{table['run'].nunique()} runs; differences from {run_names(runs)[0]}")
