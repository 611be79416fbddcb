"""linear CKA between the layers of one split and seed's nets"""

from pathlib import Path
from typing import Annotated

from ..analysis_unit import AnalysisUnit

WARM = True


def run(fine_tuned: Annotated[list[str], "fine-tuned nets to compare with their source"] = (), *,
        unit: Annotated[AnalysisUnit, "JSON: the split and seed, their data, halves, nets and model"],
        images: Annotated[int, "validation images in the probe set"], threads: int = 1, out: Path) -> None:
    from .. import tables
    from ..similarity import open_unit, similarity_rows

    rows = similarity_rows(open_unit(unit, threads), fine_tuned, images)
    tables.write_csv(rows, out)
    print(f"{len(rows)} CKA values of {unit.split} seed {unit.seed} on {rows['images'].max()} images")
