"""decode a data set once into uint8 arrays"""

from pathlib import Path
from typing import Annotated


def run(*, dataset: Annotated[dict, "the config's dataset section, as JSON"], out: Path,
        workers: Annotated[int | None, "image-decoding threads (default: one per CPU)"] = None) -> None:
    from ..data import build_cache

    meta = build_cache(dataset, str(out), workers=workers)
    print(f"cached {meta['n_train']} training and {meta['n_val']} validation images of "
          f"{len(meta['classes'])} classes in {out}")
