"""drop the checkpoints of finished nets"""

from pathlib import Path
from typing import Annotated


def run(metrics: Annotated[list[Path], "the finished nets' metrics.json"], *,
        nets: Annotated[Path, "the folder of the nets' outputs"],
        root: Annotated[Path, "the folder of their checkpoints"],
        out: Annotated[Path, "a one-line record of what was removed"]) -> None:
    from ..checkpoint import remove_finished
    from ..io import atomic_path

    pairs = [(path, root / path.parent.relative_to(nets)) for path in metrics]  # checkpoints mirror the nets
    removed = remove_finished(pairs, root)
    with atomic_path(out) as tmp:
        tmp.write_text(f"{len(pairs)} nets finished; the checkpoints of {removed} removed from {root}\n")
    print(f"removed the checkpoints of {removed} finished nets")
