"""One split and seed of the layer analyses, as the similarity and probes commands take it (--unit, JSON)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class AnalysisUnit:
    split: str
    seed: int
    data: str  # the data cache folder
    split_file: str  # the split's class halves (.tsv)
    nets_dir: str  # results/<run>/nets/<split>/seed<seed>
    model: dict  # the architecture (architectures.architecture)
    max_features: int  # larger conv maps are average-pooled (similarity.py)
