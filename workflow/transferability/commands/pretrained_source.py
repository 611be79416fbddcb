"""a torchvision weights file as half A's units, for the AnB nets"""

from pathlib import Path
from typing import Annotated


def run(*, weights: Annotated[Path, "the state-dict file (config key source.weights)"],
        meta: Annotated[Path, "the data cache's meta.json (its images' channels)"],
        model: Annotated[dict, "the net's architecture, as JSON"], out: Path) -> None:
    from ..io import read_json
    from ..pretrained import write_source_units

    write_source_units(weights, model, read_json(meta)["channels"], out)
    print(f"{out}: half A's units from the pretrained source {weights} (its classifier left out)")
