"""write the class halves A and B of one split"""

from pathlib import Path
from typing import Annotated


def run(*, meta: Annotated[Path, "the data cache's meta.json (its classes)"],
        definition: Annotated[dict, 'JSON: {"random_seed": s} or {"A": [...], "B": [...]}'], out: Path) -> None:
    from .. import splits
    from ..io import read_json

    classes = read_json(meta)["classes"]
    half_a, half_b = splits.halves(classes, definition)
    splits.write_split(out, classes, half_a, half_b)
    print(f"{out}: {len(half_a)} classes in A, {len(half_b)} in B")
