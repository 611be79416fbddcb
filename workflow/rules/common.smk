# Config checking, wildcard constraints and the small input functions the rules share.
import json
import os
import sys
import tempfile

from snakemake.utils import validate

# The repository's workflow/ folder, found from this file: workflow.basedir is the folder of the main
# Snakefile, another workflow's when this one is used as its module.
PACKAGE_ROOT = os.path.abspath(os.path.join(workflow.current_basedir, ".."))
sys.path.insert(0, PACKAGE_ROOT)
# Jobs run `python -m transferability`: the package from PYTHONPATH (also in a conda env, where it is not
# installed), `python` from PATH: the interpreter running Snakemake (its folder first, so a venv's
# snakemake works unactivated), unless --sdm conda activates the rules' env, whose python then comes first.
# (Set for the jobs, not asked of the user: no `envvars:` directive.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
    PATH=os.pathsep.join(filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")])),
)

from transferability import warm
from transferability.datasets import source_fingerprint
from transferability.config import RUN_ONLY_TRAIN_KEYS, ConfigError, check_config, coerce_config, load_schema
from transferability.model import architecture
from transferability.nets import NET_PATTERN, parse_net, transfer_grid

SCHEMA = os.path.join(PACKAGE_ROOT, "schemas/config.schema.yaml")
coerce_config(config, load_schema(SCHEMA))  # --config gives nested numbers as strings
try:
    check_config(config, load_schema(SCHEMA))  # one clear line naming the key, before any job starts
except ConfigError as error:
    sys.exit(f"error: {error}")  # that line alone: a traceback into this file would only distract
validate(config, SCHEMA)  # fills in the defaults


wildcard_constraints:
    split=r"[A-Za-z][A-Za-z0-9_-]*",  # no dots or slashes: a wildcard never leaves its folder
    seed=r"\d+",
    net=NET_PATTERN,
    figure=r"figure2_top|figure2_bottom|figure3|reduced_data",


DATA = multiext("results/data/", "train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy")


class Splits(dict):
    def __missing__(self, split):
        raise ValueError(f"split {split!r} is not in the config; configured splits: {', '.join(self) or 'none'} "
                         "(see splits.random and splits.explicit)")


def split_definitions():
    """Every split's definition by name: random<seed> from a seed, explicit class lists, and `whole`
    (every class as one task) when the controls run there."""
    splits = Splits({f"random{s}": {"random_seed": s} for s in config["splits"]["random"]})
    for name, spec in config["splits"]["explicit"].items():
        splits[name] = {half: package_file(spec[half]) for half in "AB"}
    if config["controls_on"] == "whole":
        splits["whole"] = {"whole": True}
    return splits


def package_file(value):
    """Class-list paths starting with 'paper/' name the lists shipped with the package."""
    if isinstance(value, str) and value.startswith("paper/"):
        return os.path.join(PACKAGE_ROOT, "transferability", value)
    return value


def split_kind(split):
    """random, explicit, dissimilar (an explicit split the config marks so: Section 4.2) or unsplit."""
    if split == "whole":
        return "unsplit"
    if split in {f"random{s}" for s in config["splits"]["random"]}:
        return "random"
    return "dissimilar" if config["splits"]["explicit"][split].get("dissimilar") else "explicit"


def nets_of_split(split):
    """Names of every net one split trains, base nets included. The controls (random-frozen layers,
    reduced data) run on the target halves, or only on the whole task when controls_on is whole."""
    if split == "whole":
        frozen = transfer_grid("AA", config["layers"], ["random_frozen"]) if "random_frozen" in config["treatments"] else []
        return ["baseA", *frozen, *(f"baseA_k{k}" for k in config["reduced_data"]["images_per_class"])]
    spec = config["splits"]["explicit"].get(split, {})
    treatments = spec.get("treatments", config["treatments"])
    if config["controls_on"] == "whole":
        treatments = [t for t in treatments if t != "random_frozen"]
    names = set()
    for direction in spec.get("directions", config["directions"]):
        names |= {"baseA", "baseB", *transfer_grid(direction, config["layers"], treatments)}
    if config["controls_on"] == "halves":
        half = config["reduced_data"]["half"]
        names |= {f"base{half}_k{k}" for k in config["reduced_data"]["images_per_class"]}
    return sorted(names)


def net_dir(split, seed, net):
    return f"results/nets/{split}/seed{seed}/{net}"


def all_nets():
    """(split, seed, net) of every net the config asks for."""
    return [(split, seed, net) for split in split_definitions() for seed in config["seeds"] for net in nets_of_split(split)]


def all_metrics():
    return [f"{net_dir(*key)}/metrics.json" for key in all_nets()]


def checkpoint_dir(split, seed, net):
    # Outside the declared outputs: Snakemake deletes those before it reruns a job.
    return f"results/checkpoints/{split}/seed{seed}/{net}"


CHECKPOINTS_REMOVED = "results/checkpoints_removed.txt"


WARM_SERVERS = []


def start_warm_server():
    """Local runs: one process imports torch and forks itself for each training job (transferability/warm.py).
    Not with --sdm conda/apptainer: the server runs this interpreter, and the jobs must run the rules' env."""
    if (config["train"]["warm_start"] and workflow.local_exec and not (workflow.remote_exec or workflow.subprocess_exec)
            and not workflow.deployment_settings.deployment_method):
        path = os.path.join(tempfile.gettempdir(), f"transferability-warm-{os.getpid()}.sock")
        WARM_SERVERS.append((warm.start_server(path, sys.executable), path))


def stop_warm_server():
    while WARM_SERVERS:
        warm.stop_server(*WARM_SERVERS.pop())


def source_weights(wildcards):
    """The base net whose first n layers this net copies (none for base and random-frozen nets)."""
    source = parse_net(wildcards.net).source_net
    return [f"{net_dir(wildcards.split, wildcards.seed, source)}/weights.safetensors"] if source else []


# How a job runs, not what it computes: kept out of params, so changing them reruns no net.
RUN_OPTIONS = (f"--device {config['train']['device']} --checkpoint-minutes {config['checkpoints']['every_minutes']}"
               f" --nets-per-gpu {config['resources']['nets_per_gpu']}"
               + (" --compile" if config["train"]["compile"] else ""))


def train_settings(wildcards):
    """Everything that decides a net's result, and nothing else: a change here reruns exactly the nets
    it affects. Threads, device, compilation and checkpointing are left out on purpose."""
    return {"dataset": config["dataset"]["kind"], "split": wildcards.split, "seed": int(wildcards.seed),
            "net": wildcards.net, "model": architecture(config["model"]),
            "train": {k: v for k, v in config["train"].items() if k not in RUN_ONLY_TRAIN_KEYS},
            "augment": config["augment"]}


def train_runtime_minutes(wildcards, input, attempt):
    """A time limit from the config: images to train on / a conservative speed, with margin, growing
    with each retry so a job killed for its time limit gets more the next time. Counts the whole data
    set per epoch where a net sees about half, plus its validation images."""
    with open(input.meta) as f:
        meta = json.load(f)
    train = config["train"]
    images = train["iterations"] * train["batch_size"] if train["iterations"] else train["epochs"] * meta["n_train"]
    seconds = (images + train["epochs"] * meta["n_val"]) / config["resources"]["images_per_second"]
    return int(10 + 1.5 * attempt * seconds / 60)


def figure_names():
    """Figure 2 always; Figure 3 when a dissimilar split or random-frozen nets are run; the
    reduced-data curve when reduced-data nets are."""
    names = ["figure2_top", "figure2_bottom"]
    if config["splits"]["explicit"] or "random_frozen" in config["treatments"]:
        names.append("figure3")
    if config["reduced_data"]["images_per_class"]:
        names.append("reduced_data")
    return names


def paper_overlay():
    """The paper's ImageNet values belong beside ImageNet-sized runs only, unless asked for."""
    choice = config["plots"]["paper"]
    return config["model"]["preset"] == "caffenet" if choice == "auto" else choice


def final_outputs():
    tables = [f"results/tables/{name}.csv" for name in ("nets", "per_layer", "effects", "findings")]
    if paper_overlay():
        tables.append("results/tables/paper_comparison.csv")
    figures = [f"results/figures/{name}.{ext}" for name in figure_names() for ext in ("png", "pdf")]
    analyses = analysis_outputs()  # workflow/rules/analyses.smk
    return tables + figures + analyses + ([] if config["checkpoints"]["keep"] else [CHECKPOINTS_REMOVED])


def figure_context():
    """What each figure's subtitle and legends say about the run: data set, net, training, half names."""
    train = config["train"]
    training = f"{train['iterations']} iterations" if train["iterations"] else f"{train['epochs']} epochs"
    halves = {name: {half: half_label(spec, half) for half in "AB"} for name, spec in config["splits"]["explicit"].items()}
    return {"dataset": config["dataset"]["kind"], "model": config["model"]["preset"], "training": training,
            "halves": halves}


def half_label(spec, half):
    """A half's name in the config, else its classes (a file of classes: the file's name)."""
    if half in spec.get("names", {}):
        return spec["names"][half]
    classes = spec[half]
    if isinstance(classes, str):
        return os.path.basename(classes)
    text = ", ".join(map(str, classes))
    return text if len(text) <= 28 else text[:25] + "..."


# ---- the layer analyses (workflow/rules/analyses.smk)
ANALYSES = config["analyses"]["run"]
MODEL_JSON = json.dumps(architecture(config["model"]), sort_keys=True)


def analysis_splits():
    """Splits with both base nets: the controls' unsplit task ("whole") has only one."""
    return [split for split in split_definitions() if {"baseA", "baseB"} <= set(nets_of_split(split))]


def analysis_units(kind):
    return [f"results/analyses/{split}/seed{seed}/{kind}.csv" for split in analysis_splits() for seed in config["seeds"]]


def fine_tuned_nets(wildcards):
    return [net for net in nets_of_split(wildcards.split) if parse_net(net).fine_tuned]


def unit_weights(*nets):
    """Input function: the weights of the base nets (and, if asked, the fine-tuned nets) of one unit."""
    def weights(wildcards):
        names = ["baseA", "baseB"] + (fine_tuned_nets(wildcards) if "fine_tuned" in nets else [])
        return [f"{net_dir(wildcards.split, wildcards.seed, net)}/weights.safetensors" for net in names]
    return weights


def directions_of_split(split):
    return config["splits"]["explicit"].get(split, {}).get("directions", config["directions"])


def atlas_unit():
    """The filter atlas shows the first split and seed with both base nets."""
    return analysis_splits()[0], config["seeds"][0]


# Everything the layer-measures job writes; the tables of a disabled analysis are left out.
LAYER_MEASURE_OUTPUTS = {
    "measures": "results/tables/layer_measures.csv",
    "correlations": "results/tables/layer_measure_correlations.csv",
    **({"similarity": "results/tables/similarity.csv"} if "similarity" in ANALYSES else {}),
    **({"probes": "results/tables/probes.csv"} if "probes" in ANALYSES else {}),
}


def analysis_outputs():
    """What `all` asks of this file: nothing for analyses that are off (or without two base nets)."""
    if not analysis_splits():
        return []
    outputs = []
    if {"similarity", "probes"} & set(ANALYSES):
        outputs += [*LAYER_MEASURE_OUTPUTS.values(), "results/figures/layer_measures.png", "results/figures/layer_measures.pdf"]
    if "filters" in ANALYSES:
        outputs += ["results/figures/filters.png", "results/figures/filters.pdf"]
    return outputs


UNIT_OPTIONS = ("--data results/data --split {input.split} --split-name {wildcards.split} --seed {wildcards.seed} "
                "--nets-dir results/nets/{wildcards.split}/seed{wildcards.seed} --model {params.model:q} "
                "--max-features {params.max_features} --threads {threads}")
