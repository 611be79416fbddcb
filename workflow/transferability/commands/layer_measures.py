"""similarity and probe tables, and the cheap measures against the transfer drop"""

from pathlib import Path
from typing import Annotated


def run(*, nets: Annotated[Path, "nets.csv of the collect command"],
        split_kinds: Annotated[dict, 'JSON: {"split": "random" | "explicit"}'],
        similarity: Annotated[list[Path], "per split and seed similarity.csv files"] = [],
        probes: Annotated[list[Path], "per split and seed probes.csv files"] = [],
        similarity_out: Path | None = None, probes_out: Path | None = None, measures_out: Path,
        correlations_out: Path, dpi: int = 200, out: list[Path]) -> None:
    from .. import layer_figures, measures, plots, tables

    cka, probe = measures.read_units(similarity), measures.read_units(probes)
    if cka is not None:
        tables.write_csv(measures.rounded(measures.similarity_summary(cka, split_kinds)), similarity_out)
    if probe is not None:
        tables.write_csv(measures.rounded(measures.probe_summary(probe, split_kinds)), probes_out)
    units = measures.layer_measure_units(tables.read_nets(nets), cka, probe, split_kinds)
    per_layer = measures.summarise(units, ["group", "measure", "n"], "value")
    correlations = measures.rank_correlations(per_layer)
    tables.write_csv(measures.rounded(per_layer), measures_out)
    tables.write_csv(measures.rounded(correlations), correlations_out)
    fig = layer_figures.layer_measures_figure(units, correlations)
    for path in out:
        plots.save(fig, path, dpi=dpi)
