"""How a training job runs, not what it computes: one typed object, built once from the config.

Kept out of a net's settings, and handed to its job as a Snakemake resource rather than a param (params are a
rerun trigger), so that changing any of these reruns no net.
"""

import dataclasses
import json
import typing
from typing import Literal


@dataclasses.dataclass(frozen=True)
class RunOptions:
    device: Literal["auto", "cpu", "cuda"] = "auto"  # train.device
    checkpoint_minutes: float = 0.0  # checkpoints.every_minutes; 0: a checkpoint at the end of each epoch only
    compile: bool = False  # train.compile: torch.compile the net; the first step's extra time is its compile_s
    cuda_graphs: bool = False  # train.cuda_graphs: replay each step's kernels as a CUDA graph; eager on the CPU
    nets_per_gpu: int = 1  # resources.nets_per_gpu: jobs sharing one GPU, each with its share of the memory

    def __post_init__(self):
        """A command line's values (--run-options), checked as the config's schema checks a run's."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if typing.get_origin(field.type) is typing.Literal:
                allowed = typing.get_args(field.type)
                ok, wanted = value in allowed, f"one of {allowed}"
            else:  # exact types: True is an int to isinstance; a whole number in JSON may stand for a float
                ok = type(value) is field.type or (field.type is float and type(value) is int)
                wanted = f"a {field.type.__name__}"
            if not ok:
                raise ValueError(f"run option {field.name} = {value!r}: must be {wanted}")

    @classmethod
    def from_config(cls, config: dict) -> "RunOptions":
        return cls(device=config["train"]["device"], checkpoint_minutes=config["checkpoints"]["every_minutes"],
                   compile=config["train"]["compile"], cuda_graphs=config["train"]["cuda_graphs"],
                   nets_per_gpu=config["resources"]["nets_per_gpu"])

    def to_json(self) -> str:
        """What the train command reads back into a RunOptions (its --run-options)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)
