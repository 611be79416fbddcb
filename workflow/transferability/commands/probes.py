"""linear probes on the frozen layers of one split and seed's base nets"""

from pathlib import Path
from typing import Annotated, Literal

from ..analysis_unit import AnalysisUnit

WARM = True


def run(*, unit: Annotated[AnalysisUnit, "JSON: the split and seed, their data, halves, nets and model"],
        images_per_class: int,
        targets: Annotated[list[Literal["A", "B"]], "the halves probed (the targets of the split's directions)"]
        = ("A", "B"), threads: int = 1, out: Path) -> None:
    from .. import tables
    from ..similarity import open_unit, probe_rows

    rows = probe_rows(open_unit(unit, threads), images_per_class, targets)
    tables.write_csv(rows, out)
    print(f"{len(rows)} linear probes of {unit.split} seed {unit.seed}")
