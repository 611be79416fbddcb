"""Where a run's files go: results/<run>/ for its nets, tables, figures, logs and benchmarks (run: the config
key, else the name of the last --configfile without its suffix, config.yaml's run being `default`), so two
presets never overwrite each other; results/cache/<kind>-<hash>/ for the decoded data set, shared by every run
over the same data set config (an ImageNet cache is tens of GB, and decoding it takes hours). Paths take
wildcards by default, so the rules' outputs read as templates. The rules read every path here."""

import hashlib
import json
import os

from .config import CACHE, SCHEMA, load_schema

SQUASH = "squash"  # dataset.resize's default: the data set's cache is where it was before the key existed
DATA_FILES = ("train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy")


def data_identity(dataset: dict) -> dict:
    """The data set's config spelled one way: `root` normalised (./data/x is data/x) and every key in the schema's
    order (the cache job's param is this as JSON, compared as text). Another spelling of the same folder, or the
    same keys in another order, rebuilt the cache and retrained every net. (`download` stays: the cache job
    reads it.)"""
    identity = _in_schema_order(dataset, load_schema(SCHEMA)["properties"]["dataset"])
    if identity.get("root"):
        identity["root"] = os.path.normpath(identity["root"])
    if identity.get("resize") == SQUASH:  # the resizing there was before the key: its caches keep their folders
        del identity["resize"]
    return identity


def _in_schema_order(mapping: dict, schema: dict) -> dict:
    """A copy with the keys the schema names in its order (the order fill_defaults adds them in), then any other."""
    properties = schema.get("properties", {})
    keys = [key for key in properties if key in mapping] + sorted(key for key in mapping if key not in properties)
    return {key: _in_schema_order(mapping[key], properties.get(key, {})) if isinstance(mapping[key], dict)
            else mapping[key] for key in keys}


def dataset_key(dataset: dict) -> str:
    """The data cache's folder name: the kind and a hash of the data set's config (data_identity)."""
    digest = hashlib.sha256(json.dumps(data_identity(dataset), sort_keys=True).encode()).hexdigest()[:10]
    return f"{dataset['kind']}-{digest}"


class Layout:
    """The paths of one run of one config."""

    def __init__(self, config: dict):
        self.root = f"results/{config['run']}"
        self.data = f"results/{CACHE}/{dataset_key(config['dataset'])}"

    def data_files(self) -> list[str]:
        return [f"{self.data}/{name}" for name in DATA_FILES]

    @property
    def meta(self) -> str:
        return f"{self.data}/meta.json"

    def split_file(self, split="{split}") -> str:
        return f"{self.root}/splits/{split}.tsv"

    def nets_dir(self, split="{split}", seed="{seed}") -> str:
        return f"{self.root}/nets/{split}/seed{seed}"

    @property
    def nets_root(self) -> str:
        return f"{self.root}/nets"

    def net_file(self, name, split="{split}", seed="{seed}", net="{net}") -> str:
        return f"{self.root}/nets/{split}/seed{seed}/{net}/{name}"

    @property
    def source_units(self) -> str:
        """Half A's units converted from a pretrained source (config key source), as a trained baseA's weights."""
        return f"{self.root}/source/units.safetensors"

    @property
    def checkpoints(self) -> str:
        return f"{self.root}/checkpoints"

    def checkpoint_dir(self, split, seed, net) -> str:
        # Outside the declared outputs: Snakemake deletes those before it reruns a job.
        return f"{self.root}/checkpoints/{split}/seed{seed}/{net}"

    @property
    def checkpoints_removed(self) -> str:
        return f"{self.root}/checkpoints_removed.txt"

    def table(self, name) -> str:
        return f"{self.root}/tables/{name}.csv"

    def figure(self, name="{figure}", ext="png") -> str:
        return f"{self.root}/figures/{name}.{ext}"

    def analysis_file(self, kind, split="{split}", seed="{seed}") -> str:
        return f"{self.root}/analyses/{split}/seed{seed}/{kind}.csv"

    def log(self, rule, unit="") -> str:
        return f"{self.root}/logs/{rule}{'/' + unit if unit else ''}.log"

    def benchmark(self, rule, unit="") -> str:
        return f"{self.root}/benchmarks/{rule}{'/' + unit if unit else ''}.tsv"

    @property
    def data_log(self) -> str:
        return f"{self.data}.log"  # beside the shared cache: it belongs to no one run

    @property
    def data_benchmark(self) -> str:
        return f"{self.data}.benchmark.tsv"

    def figure_pair(self, name) -> list[str]:
        return [self.figure(name, "png"), self.figure(name, "pdf")]
