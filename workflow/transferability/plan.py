"""What a run trains, analyses and draws, from its config alone: its splits, its nets and each net's settings,
its tables and figures (functions of the config), and Plan, the files of the rules that depend on them. The
rules call it in one line each; the tests and the benchmarks use the same functions, so a training job's
settings are built in one place. Where each file goes is layout.py's."""

import dataclasses
import json
import os

from .config import RUN_ONLY_TRAIN_KEYS
from .analysis_unit import AnalysisUnit
from .architectures import architecture
from .layout import Layout
from .outputs import FINAL_TABLES
from .nets import EPOCHS_FILE, METRICS_FILE, WEIGHTS_FILE, parse_net, transfer_grid
from .pretrained import PRETRAINED_SPLIT, has_source, source_sha256
from .splits import package_file


# ---- what a run has: splits, nets, settings


class UnknownSplit(dict):
    def __missing__(self, split):
        raise ValueError(f"split {split!r} is not in the config; configured splits: {', '.join(self) or 'none'} "
                         "(see splits.random and splits.explicit)")


def split_definitions(config) -> dict:
    """Every split's definition by name: random<seed> from a seed, explicit class lists, `whole` (every class
    as one task) when the controls run there, and `pretrained` (every class in half B) with a pretrained source."""
    splits = UnknownSplit({f"random{s}": {"random_seed": s} for s in config["splits"]["random"]})
    if has_source(config):
        splits[PRETRAINED_SPLIT] = {"pretrained": True}
    for name, spec in config["splits"]["explicit"].items():
        splits[name] = {half: spec[half] for half in "AB"}  # as written: a moved checkout reruns no split
    if config["controls_on"] == "whole":
        splits["whole"] = {"whole": True}
    return splits


def split_kind(config, split) -> str:
    """random, explicit, dissimilar (an explicit split the config marks so: Section 4.2), unsplit, or
    pretrained (half A a pretrained source, half B every class)."""
    if split == "whole":
        return "unsplit"
    if split == PRETRAINED_SPLIT and has_source(config):
        return "pretrained"
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
    if split == PRETRAINED_SPLIT:
        names.discard("baseA")  # half A's units are the source's (Plan.source_weights)
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
    spec = parse_net(net)
    if spec.copied_lr_factor != 1.0:
        train["copied_lr_factor"] = spec.copied_lr_factor
    settings = {"dataset": config["dataset"]["kind"], "split": split, "seed": int(seed), "net": net,
                "model": architecture(config["model"]), "train": train, "augment": config["augment"]}
    if spec.source == "A" and has_source(config):  # another source file is another net
        settings["source_sha256"] = source_sha256(config)
    return settings


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


# ---- tables and figures


def figure_names(config) -> list[str]:
    """Figure 2 always; Figure 3 when a dissimilar split or random-frozen nets are run; how many units to freeze
    when both AnB and AnB+ are; the reduced-data curve when reduced-data nets are."""
    names = ["figure2_top", "figure2_bottom"]
    if config["splits"]["explicit"] or "random_frozen" in config["treatments"]:
        names.append("figure3")
    if {"transfer", "transfer_ft"} <= set(config["treatments"]):
        names.append("freezing")
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
    """One run of one config: the files its rules read and write that depend on what it trains and analyses
    (where each file goes is its Layout's)."""

    def __init__(self, config: dict):
        self.config = config
        self.files = Layout(config)
        self.analyses = config["analyses"]["run"]

    def class_list_files(self, split) -> list[str]:
        """The files listing an explicit split's classes: inputs of its split job, so an edited list reruns it."""
        definition = split_definitions(self.config)[split]
        return [package_file(definition[half]) for half in "AB" if isinstance(definition.get(half), str)]

    def all_metrics(self) -> list[str]:
        return [self.files.net_file(METRICS_FILE, *key) for key in all_nets(self.config)]

    def all_epochs(self) -> list[str]:
        return [self.files.net_file(EPOCHS_FILE, *key) for key in all_nets(self.config)]

    def source_weights(self, split, seed, net) -> list[str]:
        """The base net whose first n layers this net copies (none for base and random-frozen nets); half A's
        units converted from the pretrained source where the config has one."""
        source = parse_net(net).source_net
        if source == "baseA" and has_source(self.config):
            return [self.files.source_units]
        return [self.files.net_file(WEIGHTS_FILE, split, seed, source)] if source else []

    def dependents(self, split, net) -> int:
        """How many nets of the split copy this net's layers: the train_net rule's priority, so that the base
        nets, on which most of the grid waits, start before the nets nothing waits on (the random-frozen
        controls depend on nothing, and Snakemake would otherwise start them first and idle cores at the end)."""
        return sum(parse_net(other).source_net == net for other in nets_of_split(self.config, split))

    # -- the layer analyses (workflow/rules/analyses.smk)
    def analysis_units(self, kind) -> list[str]:
        if kind not in self.analyses:
            return []
        return [self.files.analysis_file(kind, split, seed) for split in analysis_splits(self.config)
                for seed in self.config["seeds"]]

    def unit_weights(self, split, seed, fine_tuned=False) -> list[str]:
        """The weights of one unit's base nets (and, if asked, its fine-tuned nets)."""
        names = ["baseA", "baseB"] + (fine_tuned_nets(self.config, split) if fine_tuned else [])
        return [self.files.net_file(WEIGHTS_FILE, split, seed, net) for net in names]

    def atlas_weights(self) -> list[str]:
        return self.unit_weights(*atlas_unit(self.config)) if analysis_splits(self.config) else []

    def analysis_unit(self, split, seed) -> str:
        """What the similarity and probes commands take of one split and seed (--unit, JSON)."""
        unit = AnalysisUnit(split=split, seed=int(seed), data=self.files.data, split_file=self.files.split_file(split),
                            nets_dir=self.files.nets_dir(split, seed), model=architecture(self.config["model"]),
                            max_features=self.config["analyses"]["max_features"])
        return json.dumps(dataclasses.asdict(unit), sort_keys=True)

    def layer_measure_outputs(self) -> dict:
        """Everything the layer-measures job writes; the tables of a disabled analysis are left out."""
        tables = {"measures": "layer_measures", "correlations": "layer_measure_correlations",
                  "similarity": "similarity", "probes": "probes"}
        return {kind: self.files.table(name) for kind, name in tables.items()
                if kind in ("measures", "correlations") or kind in self.analyses}

    def analysis_outputs(self) -> list[str]:
        """What `all` asks of the analyses: nothing for analyses that are off (or without two base nets)."""
        if not analysis_splits(self.config):
            return []
        outputs = []
        if {"similarity", "probes"} & set(self.analyses):
            outputs += [*self.layer_measure_outputs().values(), *self.files.figure_pair("layer_measures")]
        if "filters" in self.analyses:
            outputs += self.files.figure_pair("filters")
        return outputs

    def final_outputs(self) -> list[str]:
        comparison = [self.files.table("paper_comparison")] if paper_overlay(self.config) else []
        tables = [self.files.table(name) for name in FINAL_TABLES] + comparison
        figures = [path for name in [*figure_names(self.config), "training_curves"]
                   for path in self.files.figure_pair(name)]
        removed = [] if self.config["checkpoints"]["keep"] else [self.files.checkpoints_removed]
        return tables + figures + self.analysis_outputs() + removed
