"""What a run trains, writes and draws, from its config alone: its splits, its nets and each net's
settings, its paths, tables and figures. The Snakefiles call it in one line each; the tests and the
benchmarks use the same functions, so a training job's settings are built in one place.

A run's outputs live in results/<run>/ (run: the config key, else the name of the last --configfile
without its suffix, config.yaml's run being `default`), so two presets never overwrite each other. The
decoded data cache is shared by every run over the same data set config: results/cache/<kind>-<hash>/
(an ImageNet cache is tens of GB, and decoding it takes hours).
"""

import ast
import functools
import hashlib
import json
import os
from pathlib import Path


from .config import CACHE, RUN_ONLY_TRAIN_KEYS, SCHEMA, ConfigError, load_schema
from .architectures import architecture
from .nets import parse_net, transfer_grid
from .splits import package_file

PACKAGE_DIR = Path(__file__).resolve().parent
SQUASH = "squash"  # dataset.resize's default: the data set's cache is where it was before the key existed
DATA_FILES = ("train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy")
TABLES = ("nets", "per_layer", "effects", "findings")


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


# ---- what a run has: splits, nets, settings


class UnknownSplit(dict):
    def __missing__(self, split):
        raise ValueError(f"split {split!r} is not in the config; configured splits: {', '.join(self) or 'none'} "
                         "(see splits.random and splits.explicit)")


def split_definitions(config) -> dict:
    """Every split's definition by name: random<seed> from a seed, explicit class lists, and `whole`
    (every class as one task) when the controls run there."""
    splits = UnknownSplit({f"random{s}": {"random_seed": s} for s in config["splits"]["random"]})
    for name, spec in config["splits"]["explicit"].items():
        splits[name] = {half: spec[half] for half in "AB"}  # as written: a moved checkout reruns no split
    if config["controls_on"] == "whole":
        splits["whole"] = {"whole": True}
    return splits


def split_kind(config, split) -> str:
    """random, explicit, dissimilar (an explicit split the config marks so: Section 4.2) or unsplit."""
    if split == "whole":
        return "unsplit"
    if split in {f"random{s}" for s in config["splits"]["random"]}:
        return "random"
    return "dissimilar" if config["splits"]["explicit"][split].get("dissimilar") else "explicit"


def split_kinds(config) -> dict:
    return {split: split_kind(config, split) for split in split_definitions(config)}


def directions_of_split(config, split) -> list:
    return config["splits"]["explicit"].get(split, {}).get("directions", config["directions"])


def nets_of_split(config, split) -> list[str]:
    """Names of every net one split trains, base nets included. The controls (random-frozen layers,
    reduced data) run on the target halves, or only on the whole task when controls_on is whole."""
    reduced = config["reduced_data"]["images_per_class"]
    if split == "whole":
        frozen = transfer_grid("AA", config["layers"], ["random_frozen"]) if "random_frozen" in config["treatments"] else []
        return ["baseA", *frozen, *(f"baseA_k{k}" for k in reduced)]
    treatments = config["splits"]["explicit"].get(split, {}).get("treatments", config["treatments"])
    if config["controls_on"] == "whole":
        treatments = [t for t in treatments if t != "random_frozen"]
    names = set()
    for direction in directions_of_split(config, split):
        names |= {"baseA", "baseB", *transfer_grid(direction, config["layers"], treatments)}
    if config["controls_on"] == "halves":
        names |= {f"base{config['reduced_data']['half']}_k{k}" for k in reduced}
    return sorted(names)


def all_nets(config) -> list[tuple]:
    """(split, seed, net) of every net the config asks for."""
    return [(split, seed, net) for split in split_definitions(config) for seed in config["seeds"]
            for net in nets_of_split(config, split)]


def train_settings(config, split, seed, net) -> dict:
    """Everything that decides a net's result, and nothing else: a change here reruns exactly the nets
    it affects. Threads, device, compilation and checkpointing are left out on purpose; a treatment's
    own settings (its copied layers' learning-rate factor) only where it has them."""
    train = {k: v for k, v in config["train"].items() if k not in RUN_ONLY_TRAIN_KEYS}
    factor = parse_net(net).copied_lr_factor
    if factor != 1.0:
        train["copied_lr_factor"] = factor
    return {"dataset": config["dataset"]["kind"], "split": split, "seed": int(seed), "net": net,
            "model": architecture(config["model"]), "train": train, "augment": config["augment"]}


def train_runtime_minutes(config, meta: dict, attempt: int) -> int:
    """A time limit from the config: images to train on / a conservative speed, with margin, growing
    with each retry so a job killed for its time limit gets more the next time, and never above
    resources.max_runtime_minutes (a capped job resumes from its checkpoint on its next attempt).
    Counts the whole data set per epoch where a net sees about half, plus its validation images."""
    train = config["train"]
    images = train["iterations"] * train["batch_size"] if train["iterations"] else train["epochs"] * meta["n_train"]
    seconds = (images + train["epochs"] * meta["n_val"]) / config["resources"]["images_per_second"]
    minutes = int(10 + 1.5 * attempt * seconds / 60)
    cap = config["resources"]["max_runtime_minutes"]
    return minutes if cap is None else min(minutes, int(cap))


@functools.cache
def code_version(command: str) -> str:
    """A hash of the code behind `python -m transferability <command>`: its function in cli.py, the cli
    helpers and constants it uses, and the package modules they import, with every package module those
    import and the package's data files they name (analysis: the paper's values). A param of the rules that
    run it, so that an edited or upgraded command, module or data file reruns the tables and figures it
    computes (Snakemake sees a shell rule's command, not the code it runs). Training,
    the data cache and the splits get none on purpose: they are hours of work whose inputs their settings
    name exactly, and a change to their code keeps the bits (the tests check it) or says so in its settings."""
    sources, todo = _command_code(command.replace("-", "_"))
    data_files = [path for path in sorted(PACKAGE_DIR.rglob("*"))
                  if path.is_file() and path.suffix not in (".py", ".pyc")]
    while todo:
        name = todo.pop()
        if name not in sources:
            sources[name] = (PACKAGE_DIR / f"{name}.py").read_text()
            imports, strings = _module_references(sources[name])
            todo += [module for module in imports if (PACKAGE_DIR / f"{module}.py").exists()]
            for path in (path for path in data_files if path.name in strings):  # e.g. the paper's values
                sources[f"data:{path.relative_to(PACKAGE_DIR).as_posix()}"] = path.read_bytes().decode("latin-1")
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(f"{name}\0{sources[name]}\0".encode())
    return digest.hexdigest()[:16]


def _command_code(command: str) -> tuple[dict, list]:
    """({"cli.<name>": source} of the command's function and of the cli-level names it uses, transitively;
    the package modules they import or name)."""
    source = (PACKAGE_DIR / "cli.py").read_text()
    defined, imported = {}, {}  # cli-level names: their statements; names imported from the package: modules
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, ast.Assign):
            defined.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            imported.update({alias.asname or alias.name: node.module or alias.name for alias in node.names})
    sources, modules, todo = {}, [], [command]
    while todo:
        name = todo.pop()
        if f"cli.{name}" not in sources:
            node = defined[name]
            used = _names_read(node)
            decorators = "".join(f"@{ast.get_source_segment(source, d)}\n" for d in getattr(node, "decorator_list", []))
            sources[f"cli.{name}"] = decorators + ast.get_source_segment(source, node)  # the segment starts at def
            modules += _package_imports(node) + [imported[n] for n in sorted(used & imported.keys())]
            todo += sorted(used & defined.keys())
    return sources, modules


def _names_read(node: ast.AST) -> set[str]:
    """The names a cli-level statement uses, less the local variables of a function (summarize's `summary` is
    not the summary command). A name bound in a nested scope (a comprehension's variable, a lambda's, an inner
    function's) is not the function's own, so it still counts: more code hashed, never less."""
    names = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
    if not isinstance(node, ast.FunctionDef):
        return {n.id for n in names}
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.comprehension)
    not_own = {id(n) for scope in ast.walk(node) if scope is not node and isinstance(scope, nested)
               for n in ast.walk(scope)}
    declared_global = {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}
    local = {n.id for n in names if isinstance(n.ctx, ast.Store) and id(n) not in not_own} - declared_global
    return {n.id for n in names} - local


@functools.cache
def _module_references(source: str) -> tuple[list[str], set[str]]:
    """(the package modules a module's source imports, its string constants: a data file of the package it
    reads is named by one). Cached by source: each module is parsed once per Snakefile parse, not per command."""
    tree = ast.parse(source)
    return _package_imports(tree), {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                                    and isinstance(n.value, str)}


def _package_imports(tree: ast.AST) -> list[str]:
    """The package's own modules imported in `tree`: `from . import a, b` and `from .c import d`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found += [node.module] if node.module else [alias.name for alias in node.names]
    return found


def run_options(config) -> str:
    """How a training job runs, not what it computes: kept out of its settings, so changing them reruns no net."""
    flags = "".join(f" --{flag}" for flag, on in (("compile", config["train"]["compile"]),
                                                  ("cuda-graphs", config["train"]["cuda_graphs"])) if on)
    return (f"--device {config['train']['device']} --checkpoint-minutes {config['checkpoints']['every_minutes']}"
            f" --nets-per-gpu {config['resources']['nets_per_gpu']}{flags}")


# ---- tables and figures


def figure_names(config) -> list[str]:
    """Figure 2 always; Figure 3 when a dissimilar split or random-frozen nets are run; the
    reduced-data curve when reduced-data nets are."""
    names = ["figure2_top", "figure2_bottom"]
    if config["splits"]["explicit"] or "random_frozen" in config["treatments"]:
        names.append("figure3")
    if config["reduced_data"]["images_per_class"]:
        names.append("reduced_data")
    return names


def paper_overlay(config) -> bool:
    """The paper's ImageNet values belong beside ImageNet-sized runs only, unless asked for."""
    choice = config["plots"]["paper"]
    return config["model"]["preset"] == "caffenet" if choice == "auto" else choice


def figure_context(config) -> dict:
    """What each figure's subtitle and legends say about the run: data set, net, training, half names."""
    train = config["train"]
    training = f"{train['iterations']} iterations" if train["iterations"] else f"{train['epochs']} epochs"
    halves = {name: {half: half_label(spec, half) for half in "AB"} for name, spec in config["splits"]["explicit"].items()}
    return {"dataset": config["dataset"]["kind"], "model": config["model"]["preset"], "training": training,
            "halves": halves}


def half_label(spec, half) -> str:
    """A half's name in the config, else its classes (a file of classes: the file's name)."""
    if half in spec.get("names", {}):
        return spec["names"][half]
    classes = spec[half]
    if isinstance(classes, str):
        return os.path.basename(classes)
    text = ", ".join(map(str, classes))
    return text if len(text) <= 28 else text[:25] + "..."


def analysis_splits(config) -> list[str]:
    """Splits with both base nets: the controls' unsplit task ("whole") has only one."""
    return [split for split in split_definitions(config) if {"baseA", "baseB"} <= set(nets_of_split(config, split))]


def fine_tuned_nets(config, split) -> list[str]:
    return [net for net in nets_of_split(config, split) if parse_net(net).fine_tuned]


def atlas_unit(config) -> tuple:
    """The filter atlas shows the first split and seed with both base nets."""
    return analysis_splits(config)[0], config["seeds"][0]


def probe_targets(config, split) -> str:
    """The halves probed: the targets of the split's directions."""
    return " ".join(sorted({direction[1] for direction in directions_of_split(config, split)}))


class Plan:
    """One run of one config: the functions above bound to it, and where each of its files goes."""

    def __init__(self, config: dict):
        self.config = config
        self.run = config["run"]
        self.root = f"results/{self.run}"
        self.data = f"results/{CACHE}/{dataset_key(config['dataset'])}"
        self.analyses = config["analyses"]["run"]

    # -- paths (wildcards by default, so the rules' outputs read as templates)
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

    # -- the experiment
    def splits(self) -> dict:
        return split_definitions(self.config)

    def class_list_files(self, split) -> list[str]:
        """The files listing an explicit split's classes: inputs of its split job, so an edited list reruns it."""
        definition = self.splits()[split]
        return [package_file(definition[half]) for half in "AB" if isinstance(definition.get(half), str)]

    def split_kinds(self) -> dict:
        return split_kinds(self.config)

    def nets_of_split(self, split) -> list[str]:
        return nets_of_split(self.config, split)

    def all_metrics(self) -> list[str]:
        return [self.net_file("metrics.json", *key) for key in all_nets(self.config)]

    def all_epochs(self) -> list[str]:
        return [self.net_file("epochs.csv", *key) for key in all_nets(self.config)]

    def train_settings_json(self, split, seed, net) -> str:
        return json.dumps(train_settings(self.config, split, seed, net), sort_keys=True)

    def train_runtime_minutes(self, meta_path, attempt) -> int:
        return train_runtime_minutes(self.config, json.loads(Path(meta_path).read_text()), attempt)

    def source_weights(self, split, seed, net) -> list[str]:
        """The base net whose first n layers this net copies (none for base and random-frozen nets)."""
        source = parse_net(net).source_net
        return [self.net_file("weights.safetensors", split, seed, source)] if source else []

    def dependents(self, split, net) -> int:
        """How many nets of the split copy this net's layers: the train_net rule's priority, so that the base
        nets, on which most of the grid waits, start before the nets nothing waits on (the random-frozen
        controls depend on nothing, and Snakemake would otherwise start them first and idle cores at the end)."""
        return sum(parse_net(other).source_net == net for other in nets_of_split(self.config, split))

    def code(self, command: str) -> str:
        return code_version(command)

    def run_options(self) -> str:
        return run_options(self.config)

    def figure_names(self) -> list[str]:
        return figure_names(self.config)

    def paper_overlay(self) -> bool:
        return paper_overlay(self.config)

    def figure_context(self) -> str:
        return json.dumps(figure_context(self.config))

    def model_json(self) -> str:
        return json.dumps(architecture(self.config["model"]), sort_keys=True)

    # -- the layer analyses (workflow/rules/analyses.smk)
    def analysis_splits(self) -> list[str]:
        return analysis_splits(self.config)

    def analysis_units(self, kind) -> list[str]:
        if kind not in self.analyses:
            return []
        return [self.analysis_file(kind, split, seed) for split in self.analysis_splits() for seed in self.config["seeds"]]

    def fine_tuned_nets(self, split) -> list[str]:
        return fine_tuned_nets(self.config, split)

    def unit_weights(self, split, seed, fine_tuned=False) -> list[str]:
        """The weights of one unit's base nets (and, if asked, its fine-tuned nets)."""
        names = ["baseA", "baseB"] + (self.fine_tuned_nets(split) if fine_tuned else [])
        return [self.net_file("weights.safetensors", split, seed, net) for net in names]

    def atlas_weights(self) -> list[str]:
        return self.unit_weights(*atlas_unit(self.config)) if self.analysis_splits() else []

    def atlas_unit(self) -> str:
        return "--split-name {} --seed {}".format(*atlas_unit(self.config))

    def unit_options(self, split, seed) -> str:
        """The options every per-unit analysis command takes: its data, split, nets and model."""
        return (f"--data {self.data} --split {self.split_file(split)} --split-name {split} --seed {seed} "
                f"--nets-dir {self.nets_dir(split, seed)} --model '{self.model_json()}' "
                f"--max-features {self.config['analyses']['max_features']}")

    def layer_measure_outputs(self) -> dict:
        """Everything the layer-measures job writes; the tables of a disabled analysis are left out."""
        tables = {"measures": "layer_measures", "correlations": "layer_measure_correlations",
                  "similarity": "similarity", "probes": "probes"}
        return {kind: self.table(name) for kind, name in tables.items()
                if kind in ("measures", "correlations") or kind in self.analyses}

    def analysis_outputs(self) -> list[str]:
        """What `all` asks of the analyses: nothing for analyses that are off (or without two base nets)."""
        if not self.analysis_splits():
            return []
        outputs = []
        if {"similarity", "probes"} & set(self.analyses):
            outputs += [*self.layer_measure_outputs().values(), *self.figure_pair("layer_measures")]
        if "filters" in self.analyses:
            outputs += self.figure_pair("filters")
        return outputs

    def figure_pair(self, name) -> list[str]:
        return [self.figure(name, "png"), self.figure(name, "pdf")]

    def final_outputs(self) -> list[str]:
        tables = [self.table(name) for name in TABLES] + ([self.table("paper_comparison")] if self.paper_overlay() else [])
        figures = [path for name in [*self.figure_names(), "training_curves"] for path in self.figure_pair(name)]
        removed = [] if self.config["checkpoints"]["keep"] else [self.checkpoints_removed]
        return tables + figures + self.analysis_outputs() + removed

