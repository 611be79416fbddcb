"""The plan of a run (transferability/plan.py) on the presets, and the open sets' tables against the
schema: what each config trains, where its files go, and how a config file combines with another."""

import functools
import json
import re
import shutil
import subprocess
import sys
import time
import typing

import pytest
import yaml

from conftest import ROOT, SMOKE, SNAKEMAKE, package_env, run_snakemake
from transferability.layout import dataset_key
from transferability.config import SCHEMA as SCHEMA_FILE, apply_base, checked, load_config, merge
from transferability import analysis, architectures, datasets, plan, provenance, plots
from transferability.config import ConfigError, load_schema
from transferability.nets import TREATMENTS, parse_net, transfer_grid
from transferability.run_options import RunOptions

PRESETS = {"default": ROOT / "config.yaml", "cifar10": ROOT / "config/cifar10.yaml",
           "cifar100": ROOT / "config/cifar100.yaml", "imagenet": ROOT / "config/imagenet.yaml", "smoke": SMOKE}
SCHEMA = load_schema(SCHEMA_FILE)


@pytest.fixture(scope="module", params=list(PRESETS))
def preset(request):
    return request.param, load_config(PRESETS[request.param])


def test_each_preset_is_its_own_run_under_results(preset):
    name, config = preset
    run = plan.Plan(config)
    assert config["run"] == name and run.files.root == f"results/{name}"
    outputs = run.final_outputs()
    assert outputs and all(path.startswith(f"results/{name}/") for path in outputs)
    assert run.files.table("nets") in outputs and run.files.figure("figure2_top", "pdf") in outputs


def test_presets_never_share_an_output_and_share_the_cache_only_over_the_same_data():
    plans = {name: plan.Plan(load_config(path)) for name, path in PRESETS.items()}
    outputs = [set(p.final_outputs()) | set(p.all_metrics()) for p in plans.values()]
    assert all(not (a & b) for i, a in enumerate(outputs) for b in outputs[i + 1:])
    assert len({p.files.data for p in plans.values()}) == len(plans)  # five data sets
    tweaked = plan.Plan(load_config(PRESETS["default"], {"run": "more_seeds", "seeds": [0, 1, 2]}))
    assert tweaked.files.data == plans["default"].files.data and tweaked.files.root == "results/more_seeds"


def test_every_net_has_settings_the_train_command_reads(preset):
    _, config = preset
    nets = plan.all_nets(config)
    assert len(nets) == len(set(nets))
    for split, seed, net in nets:
        settings = plan.train_settings(config, split, seed, net)
        assert settings["net"] == net and settings["seed"] == seed and settings["split"] == split
        assert not set(settings["train"]) & {"threads", "device", "compile", "cuda_graphs", "warm_start"}  # rerun nothing
        assert ("copied_lr_factor" in settings["train"]) == (parse_net(net).treatment == "transfer_ft_lowlr")


def test_the_default_plans_the_documented_grid():
    config = load_config(PRESETS["default"])
    randoms = [f"random{s}" for s in range(4)]
    assert list(plan.split_definitions(config)) == [*randoms, "garments_accessories"]
    assert plan.split_kinds(config) == {**dict.fromkeys(randoms, "random"), "garments_accessories": "dissimilar"}
    random0 = plan.nets_of_split(config, "random0")
    assert len(random0) == 2 + 5 * 4  # two base nets; one direction (A to B) x 5 treatments x 4 layers
    assert plan.nets_of_split(config, "garments_accessories") == sorted(
        ["baseA", "baseB", *transfer_grid("AB", [1, 3, 5, 7], ["transfer"]), *transfer_grid("BA", [1, 3, 5, 7], ["transfer"])])
    assert plan.figure_names(config) == ["figure2_top", "figure2_bottom", "figure3", "freezing"]
    assert not plan.paper_overlay(config)


def test_imagenet_plans_the_papers_controls_on_the_whole_task():
    config = load_config(PRESETS["imagenet"])
    whole = plan.nets_of_split(config, "whole")
    assert "baseA" in whole and len([n for n in whole if n.startswith("baseA_k")]) == 12
    assert plan.split_kind(config, "whole") == "unsplit" and "reduced_data" in plan.figure_names(config)
    assert plan.paper_overlay(config)
    assert plan.split_definitions(config)["natman"]["A"] == "paper/half_man_idx.txt"  # as written: params
    assert plan.Plan(config).class_list_files("natman")[0] == str(provenance.PACKAGE_DIR / "paper/half_man_idx.txt")
    assert plan.analysis_splits(config) == ["random0", "random1", "random2", "random3", "natman"]


def test_an_unknown_split_names_the_configured_ones():
    with pytest.raises(ValueError, match="split 'nosuch' is not in the config; configured splits: random0"):
        plan.split_definitions(load_config(SMOKE))["nosuch"]


# ---- how a config file combines with others


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_config_file_without_base_takes_the_schemas_defaults_not_config_yaml(tmp_path):
    config = load_config(write(tmp_path / "mine.yaml", {"dataset": {"kind": "synthetic"}}))
    assert config["directions"] == ["AB"] and config["layers"] == [1, 2, 3, 4, 5, 6, 7]  # the schema's
    assert config["run"] == "mine"


def test_a_base_is_merged_under_the_file_key_by_key(tmp_path):
    mine = write(tmp_path / "mine.yaml", {"base": str(ROOT / "config.yaml"), "train": {"epochs": 8}, "seeds": [0, 1]})
    config = load_config(mine)
    default = load_config(PRESETS["default"])
    assert config["train"] == {**default["train"], "epochs": 8}  # the section merged, one key changed
    assert config["seeds"] == [0, 1] and config["directions"] == default["directions"]
    assert config["splits"] == default["splits"] and config["run"] == "mine"
    (tmp_path / "sub").mkdir()
    relative = write(tmp_path / "sub/other.yaml", {"base": "../mine.yaml", "layers": [1]})
    assert load_config(relative)["train"]["epochs"] == 8  # a base's base, each relative to its file


def test_a_base_that_names_its_file_again_is_refused(tmp_path):
    write(tmp_path / "a.yaml", {"base": "b.yaml"})
    with pytest.raises(ConfigError, match="its base names it again"):
        load_config(write(tmp_path / "b.yaml", {"base": "a.yaml"}))


def test_an_explicit_only_config_runs_no_random_split(tmp_path):
    explicit = {"dataset": {"kind": "synthetic"}, "splits": {"explicit": {"mine": {"A": [0, 1], "B": [2, 3]}}}}
    assert list(plan.split_definitions(load_config(write(tmp_path / "e.yaml", explicit)))) == ["mine"]
    asked = {**explicit, "splits": {**explicit["splits"], "random": [0]}}
    assert list(plan.split_definitions(load_config(write(tmp_path / "a.yaml", asked)))) == ["random0", "mine"]
    assert list(plan.split_definitions(load_config(write(tmp_path / "n.yaml", {})))) == ["random0"]


def test_snakemake_merges_a_base_and_names_the_run_after_the_last_config_file(tmp_path):
    mine = write(tmp_path / "mine.yaml", {"base": str(SMOKE), "layers": [2]})
    result = run_snakemake(tmp_path, "-n", config=mine)
    assert "results/mine/nets/random0/seed0/A2B+/metrics.json" in result.stdout
    assert "A1B" not in result.stdout and "results/smoke" not in result.stdout


def test_a_reserved_or_bad_run_name_is_refused():
    with pytest.raises(ConfigError, match="run = 'cache' is reserved"):
        load_config(SMOKE, {"run": "cache"})
    with pytest.raises(ConfigError, match="config key run"):
        load_config(SMOKE, {"run": "../elsewhere"})


# ---- the runtime cap


def test_the_runtime_cap_bounds_every_attempt():
    meta = {"n_train": 1_281_167, "n_val": 50_000}
    uncapped = load_config(PRESETS["imagenet"], {"resources": {"max_runtime_minutes": None}})
    assert plan.train_runtime_minutes(uncapped, meta, 1) > 2880  # 450,000 iterations of 256 at 1000 images/s
    capped = load_config(PRESETS["imagenet"])  # the preset caps at 48 h, checkpointing every 30 min
    assert [plan.train_runtime_minutes(capped, meta, attempt) for attempt in (1, 2, 3)] == [2880] * 3


@pytest.mark.parametrize("every", [0, 60, 90])
def test_a_cap_without_a_shorter_checkpoint_interval_is_refused(every):
    with pytest.raises(ConfigError, match="checkpoints.every_minutes = .* below resources.max_runtime_minutes = 60"):
        load_config(SMOKE, {"resources": {"max_runtime_minutes": 60}, "checkpoints": {"every_minutes": every}})


@pytest.mark.parametrize("compiled", [{"train": {"compile": True}}, {"model": {"lrn_fused": True}}],
                         ids=["compile", "lrn-fused"])
def test_cuda_graphs_with_compiled_kernels_are_refused(compiled):
    key = "train.compile" if "train" in compiled else "model.lrn_fused"
    with pytest.raises(ConfigError, match=f"config keys train.cuda_graphs and {key} are both true: choose one"):
        load_config(SMOKE, merge(compiled, {"train": {"cuda_graphs": True}}))


def test_cuda_graphs_is_a_run_option_passed_to_the_training_command():
    on = load_config(SMOKE, {"train": {"cuda_graphs": True}})
    assert json.loads(RunOptions.from_config(on).to_json())["cuda_graphs"] is True
    assert RunOptions.from_config(load_config(SMOKE)).cuda_graphs is False
    assert plan.train_settings(on, "random0", 0, "A3B") == plan.train_settings(load_config(SMOKE), "random0", 0, "A3B")


# ---- one table per open set, and the schema's enums equal to each


def schema_treatment_enums():
    split = next(iter(SCHEMA["properties"]["splits"]["properties"]["explicit"]["patternProperties"].values()))
    return [SCHEMA["properties"]["treatments"]["items"]["enum"], split["properties"]["treatments"]["items"]["enum"]]


def test_schema_enums_are_the_tables():
    """Adding a treatment, a data set reader or a model preset is one table entry, and the schema's list."""
    assert all(enum == list(TREATMENTS) for enum in schema_treatment_enums())
    assert SCHEMA["properties"]["dataset"]["properties"]["kind"]["enum"] == list(datasets.KINDS)
    assert SCHEMA["properties"]["model"]["properties"]["preset"]["enum"] == list(architectures.PRESETS)
    device = SCHEMA["properties"]["train"]["properties"]["device"]
    assert list(typing.get_args(typing.get_type_hints(RunOptions)["device"])) == device["enum"]
    assert RunOptions().device == device["default"]


def test_every_treatment_has_names_styles_and_effects():
    against_base = {a for a, b in analysis.EFFECTS.values() if b == "base"}
    for name, treatment in TREATMENTS.items():
        nets = transfer_grid("AB", range(1, 8), [name])
        assert [parse_net(net).treatment for net in nets] == [name] * 7  # the name says the treatment
        assert name in plots.STYLE and name in against_base
    assert set(plots.FIGURE2_TREATMENTS) - {"base"} <= set(TREATMENTS)


def test_every_figure_a_run_can_ask_for_has_a_drawing():
    config = load_config(SMOKE, {"splits": {"explicit": {"d": {"A": [0, 1], "B": [2, 3]}}},
                                      "reduced_data": {"images_per_class": [5]}})
    assert set(plan.figure_names(config)) <= set(plots.FIGURES)


def test_the_low_lr_treatment_fine_tunes_the_copied_layers_at_a_tenth():
    spec = parse_net("A3B+lr")
    assert (spec.source_net, spec.n, spec.fine_tuned, spec.frozen_layers) == ("baseA", 3, True, 0)
    settings = plan.train_settings(load_config(SMOKE), "random0", 0, "A3B+lr")
    assert settings["train"]["copied_lr_factor"] == 0.1
    assert "copied_lr_factor" not in plan.train_settings(load_config(SMOKE), "random0", 0, "A3B+")["train"]


# ---- small rules run on the submitting machine


SMALL_RULES = ["split_classes", "remove_finished_checkpoints", "collect_results", "summarize_layers",
               "compare_with_paper", "collect_epochs", "draw_figure", "draw_training_curves",
               "compare_layer_measures", "draw_filter_atlas"]


def test_small_rules_run_locally_and_heavy_ones_do_not():
    """On a cluster, a rule of seconds is not worth an sbatch job and its queue wait."""
    rules = {}
    for path in (ROOT / "workflow/rules").glob("*.smk"):
        for block in path.read_text().split("\nrule ")[1:]:
            name, body = block.split(":", 1)
            rules[name] = "localrule: True" in body.split("\n\n\n")[0]
    assert {name for name, local in rules.items() if local} == set(SMALL_RULES)
    assert set(rules) - set(SMALL_RULES) == {"cache_dataset", "train_net", "measure_similarity", "train_probes"}


def test_the_low_lr_nets_have_their_own_legend_entry():
    """Figure 2's net-by-net panel names the new treatment's nets, in the paper's notation."""
    import pandas as pd

    rows = [("baseB", "base", "", 0, 0.80), ("A1B+", "transfer_ft", "A", 1, 0.81), ("A1B+lr", "transfer_ft_lowlr", "A", 1, 0.82)]
    nets = pd.DataFrame([{"dataset": "synthetic", "split": "random0", "split_kind": "random", "seed": 0, "net": net,
                          "treatment": treatment, "source": source, "target": "B", "n": n, "fine_tuned": n > 0,
                          "images_per_class": float("nan"), "top1": top1, "top5": 1.0}
                         for net, treatment, source, n, top1 in rows])
    fig = plots.figure2_top(nets)
    labels = [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().get_texts()]
    assert "AnB$^+$ (copied lr x0.1)" in labels and "AnB$^+$" in labels


def test_a_base_never_names_the_run_built_on_it(tmp_path):
    """A base's `run:` would send every file built on it into the base's folder, overwriting its nets."""
    write(tmp_path / "base.yaml", {"run": "baseline", "dataset": {"kind": "synthetic"}})
    assert load_config(write(tmp_path / "longer.yaml", {"base": "base.yaml", "train": {"epochs": 8}}))["run"] == "longer"


def test_a_base_in_the_configfile_of_a_workflow_using_this_one_as_a_module_is_read(tmp_path):
    """Snakemake's `configfile:` directive (a module user's, or snakedeploy's config/config.yaml) is in
    workflow.configfiles, not in the --configfile list: its base was dropped without a word."""
    from test_deploy import module_workflow

    (tmp_path / "user").mkdir()
    mine = write(tmp_path / "user/config.yaml", {"base": str(SMOKE), "layers": [2]})
    snakefile = module_workflow(tmp_path / "user", mine)
    result = subprocess.run([SNAKEMAKE, "-n", "-s", str(snakefile), "-d", str(tmp_path / "user")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "results/default/nets/random0/seed0/A2B+/metrics.json" in result.stdout and "A1B" not in result.stdout


def test_a_base_no_config_file_names_is_refused():
    with pytest.raises(ConfigError, match=r"config key base = 'x.yaml': only a config file's own base"):
        apply_base({"base": "x.yaml"}, [])


@pytest.mark.parametrize("name", ["random0", "whole", "pretrained"])
def test_an_explicit_split_cannot_take_a_random_splits_or_the_controls_name(name):
    """An explicit `random0` replaced the random split and was pooled with the random splits' findings."""
    config = {"dataset": {"kind": "synthetic"}, "run": "x", "splits": {"explicit": {name: {"A": [0, 1], "B": [2, 3]}}}}
    with pytest.raises(ConfigError, match=f"splits.explicit.{name}: the names random<seed> and whole"):
        checked(config)


def test_the_data_cache_ignores_how_its_root_is_spelled():
    """The spelling of `root` rebuilt the cache (and retrained every net) on the same bytes."""
    dataset = {"kind": "imagefolder", "root": "data/pets"}
    same = [dataset, {**dataset, "root": "./data/pets"}, {**dataset, "root": "data/pets/"}]
    assert len({dataset_key(d) for d in same}) == 1
    assert dataset_key({**dataset, "root": "data/cats"}) != dataset_key(dataset)


def test_the_runtime_cap_is_whole_minutes():
    """sbatch reads a time limit of 0 as none: a cap of 0.5 minutes must not become 0."""
    config = {"dataset": {"kind": "synthetic"}, "run": "x", "resources": {"max_runtime_minutes": 0.5}}
    with pytest.raises(ConfigError, match="max_runtime_minutes"):
        checked(config)


def test_an_analysis_reruns_on_no_thread_count():
    """Params are a rerun trigger: the per-unit analyses' threads belong in their command, not their params."""
    run = plan.Plan(load_config(SMOKE))
    assert "threads" not in json.loads(run.analysis_unit("random0", 0))
    text = (ROOT / "workflow/rules/analyses.smk").read_text()
    assert text.count("--unit {params.unit:q} --threads {threads}") == 2


@pytest.mark.slow
def test_an_edited_class_list_file_reruns_its_split(tmp_path):
    """Only the list's path was in the split job's params: editing the file reran nothing."""
    (tmp_path / "a.txt").write_text("0\n1\n2\n")
    (tmp_path / "b.txt").write_text("3\n4\n5\n")
    mine = write(tmp_path / "mine.yaml", {"base": str(SMOKE), "splits": {"random": [], "explicit": {
        "mine": {"A": str(tmp_path / "a.txt"), "B": str(tmp_path / "b.txt")}}}})
    split = "results/mine/splits/mine.tsv"
    run_snakemake(tmp_path, "--cores", "1", split, config=mine)
    assert "split_classes" not in run_snakemake(tmp_path, "-n", split, config=mine).stdout  # done
    time.sleep(1)
    (tmp_path / "a.txt").write_text("0\n1\n6\n")
    planned = run_snakemake(tmp_path, "-n", split, config=mine).stdout
    assert "split_classes" in planned and "a.txt" in planned


def test_a_commands_code_version_covers_its_module_and_the_modules_it_uses(tmp_path, monkeypatch):
    """figure's code: commands/figure.py, the module that builds its command line (commands/__init__.py), the
    modules it imports (outputs, for FIGURE_TABLES; plots, tables) and theirs (plots imports analysis): an edit
    to any of them changes its version; an edit to another command or to a module it does not use does not."""
    edit = _edited_package(tmp_path, monkeypatch)
    before = provenance.code_version("figure")
    assert provenance.code_version("training-curves") == provenance.code_version("training_curves") != before
    edit("similarity.py", '"""', '"""Edited. ')  # a module figure does not use
    edit("commands/summarize.py", "def run(", "def run(  # edited\n")
    edit("cli.py", '"""', '"""Edited. ')  # the help and the dispatch: no command's result
    assert provenance.code_version("figure") == before
    for path, old, new in (("commands/figure.py", "fig = plots.draw(name,", "fig = plots.draw(str(name),"),
                           ("commands/__init__.py", 'options["nargs"] = "?"', 'options["nargs"] = "?"  # edited'),
                           ("outputs.py", 'FIGURE_TABLES = ("findings",', 'FIGURE_TABLES = ("findings", "x",'),
                           ("tables.py", '"""', '"""Edited. '), ("analysis.py", '"""', '"""Edited. ')):
        edit(path, old, new)
        assert provenance.code_version("figure") != before, path
        before = provenance.code_version("figure")


def test_a_commands_imports_are_read_relative_to_its_module():
    """`from .. import a` in commands/x.py is the package's a.py; `from . import b` in c.py is b.py."""
    import ast
    assert provenance.package_imports("commands/x.py", ast.parse("from .. import a\nfrom ..b import c")) == ["a.py", "b.py"]
    assert provenance.package_imports("c.py", ast.parse("def f():\n    from . import b, d")) == ["b.py", "d.py"]
    assert provenance.package_imports("cli.py", ast.parse("from . import commands")) == ["commands/__init__.py"]


def test_reading_the_workflow_imports_no_torch():
    """Snakemake reads the Snakefile at every start: every dry run, every command, and on a cluster every job
    (inside it). What the rules import (common.smk) must not import torch (about 2 s each time)."""
    common = (ROOT / "workflow/rules/common.smk").read_text()
    imports = "\n".join(re.findall(r"^(?:from transferability\S* import .+|import .+)$", common, re.M))
    assert "from transferability import plan" in imports
    check = f"import sys\n{imports}\nprint(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=package_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _edited_package(tmp_path, monkeypatch):
    """A copy of the package that code_version reads, and a function that edits one of its files."""
    package = tmp_path / "transferability"
    shutil.copytree(provenance.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", package)
    # the copy's versions in a cache of their own, gone with the test
    monkeypatch.setattr(provenance, "code_version", functools.cache(provenance.code_version.__wrapped__))

    def edit(path, old, new):
        text = (package / path).read_text()
        assert old in text
        (package / path).write_text(text.replace(old, new, 1))
        provenance.code_version.cache_clear()
    return edit


def test_a_commands_code_version_covers_the_package_data_its_modules_read(tmp_path, monkeypatch):
    """paper-comparison reads the paper's values through analysis (paper/yosinski2014_results.csv): a corrected
    value reruns it; collect reads no data file of the package."""
    edit = _edited_package(tmp_path, monkeypatch)
    provenance.code_version.cache_clear()
    before = {command: provenance.code_version(command) for command in ("paper_comparison", "figure", "collect")}
    rows = (provenance.PACKAGE_DIR / "paper/yosinski2014_results.csv").read_text().splitlines()
    edit("paper/yosinski2014_results.csv", rows[1], rows[1] + "0")
    after = {command: provenance.code_version(command) for command in before}
    provenance.code_version.cache_clear()
    assert after["paper_comparison"] != before["paper_comparison"]
    assert after["figure"] != before["figure"]  # its --paper overlay draws them
    assert after["collect"] == before["collect"]


# Params Snakemake computes from a job's input or output files: each only says where a file is (what that file
# holds is the trigger), never a setting.
PATH_PARAMS = {("cache_dataset", "out"), ("train_net", "data"), ("compare_layer_measures", "tables"),
               ("summarize_layers", "tables"), ("remove_finished_checkpoints", "nets"),
               ("remove_finished_checkpoints", "root")}


def test_no_setting_is_a_param_snakemake_leaves_out_of_its_rerun_trigger():
    """Snakemake records a param computed by a function of input, output, threads or resources as 'derived'
    and never compares it on a later run (snakemake.rules.Rule._is_deriving_function): a setting passed that
    way (analyses.max_features in the analyses' `unit`) reran nothing when it changed."""
    derived = set()
    for path in (ROOT / "workflow/rules").glob("*.smk"):
        for block in path.read_text().split("\nrule ")[1:]:
            rule, body = block.split(":", 1)
            params = re.search(r"\n    params:\n(.*?)(?=\n    \w+:|\Z)", body, re.S)
            for name, arguments in re.findall(r"^        (\w+)=lambda ([\w, ]+):", params[1] if params else "", re.M):
                if {"input", "output", "threads", "resources"} & {a.strip() for a in arguments.split(",")}:
                    derived.add((rule, name))
    assert derived <= PATH_PARAMS, f"settings passed as derived params: {sorted(derived - PATH_PARAMS)}"
    assert {rule for rule, _ in derived} >= {"cache_dataset", "train_net"}, "the rules were not read"
