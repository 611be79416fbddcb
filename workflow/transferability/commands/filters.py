"""the conv1 filter atlas of baseA, baseB and a random-init net"""

from pathlib import Path
from typing import Annotated

WARM = True


def run(*, weights: Annotated[tuple[Path, Path], "baseA's and baseB's weights.safetensors"],
        model: Annotated[dict, "the architecture, as JSON"], split_name: str, seed: int, dpi: int = 200,
        out: list[Path]) -> None:
    from .. import layer_figures, plots

    panels = layer_figures.first_layer_filters(weights, seed, model)
    fig = layer_figures.filter_atlas(panels, subtitle=f"{split_name}, seed {seed}")
    for path in out:
        plots.save(fig, path, dpi=dpi)
