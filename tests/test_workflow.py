"""The real Snakemake DAG on the smoke config: end to end, nothing left to do after, what reruns when,
and SIGKILLs at random moments that cost nothing but time."""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import yaml
import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, SNAKEMAKE, package_env, run_dir, run_snakemake
from transferability.model import LAYER_NAMES
from transferability.nets import parse_net

pytestmark = pytest.mark.slow
TIMING = ["wall_s", "images_per_s"]


def planned_jobs(result) -> dict:
    """{rule: count} from the job-stats table of a dry run."""
    stats = re.search(r"Job stats:\n(.*?)\n\n", result.stdout + "\n\n", re.S)
    if not stats:
        return {}
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats[1], re.M) if m[1] != "total"}


def test_smoke_dag_makes_every_net_table_and_figure(finished_run):
    nets = pd.read_csv(run_dir(finished_run) / "tables/nets.csv")
    assert len(nets) == 30 and nets["net"].is_unique
    assert nets.groupby("treatment").size().to_dict() == {
        "base": 2, "selffer": 7, "selffer_ft": 7, "transfer": 7, "transfer_ft": 7}
    assert nets["top1"].between(0, 1).all()
    base_b = nets.set_index("net").loc["baseB", "top1"]
    assert base_b > 0.3, f"baseB at {base_b}: the smoke nets learn nothing (chance is 0.2)"
    per_layer = pd.read_csv(run_dir(finished_run) / "tables/per_layer.csv")
    assert set(per_layer["n"]) == set(range(8))
    effects = pd.read_csv(run_dir(finished_run) / "tables/effects.csv")
    assert {"co_adaptation", "specificity", "boost"} <= set(effects["effect"])
    assert (effects["units"] == 1).all() and effects["sem"].isna().all(), "one unit: no spread, never 0"
    findings = pd.read_csv(run_dir(finished_run) / "tables/findings.csv", dtype={"finding": str}).set_index("finding")
    judged = findings.loc[["2", "3", "4", "5"]]  # one split, seed and direction: nothing can be decided
    assert (judged["outcome"] == "undetermined").all() and judged["why"].str.contains("1 cluster").all()
    for name in ("figure2_top", "figure2_bottom"):
        for ext in ("png", "pdf"):
            assert (run_dir(finished_run) / f"figures/{name}.{ext}").stat().st_size > 10_000
    assert (run_dir(finished_run) / "logs/train_net/random0/seed0/A4B+.log").read_text().count("/3 ") == 3
    assert not (run_dir(finished_run) / "checkpoints").exists(), "checkpoints of finished nets are removed"


def test_smoke_dag_makes_the_layer_analyses(finished_run):
    """CKA, probes, the combined figure and the filter atlas (issue 15), from the same run."""
    tables = run_dir(finished_run) / "tables"
    similarity = pd.read_csv(tables / "similarity.csv")
    base = similarity[similarity["pair"] == "baseA vs baseB"]
    assert list(base["layer"]) == list(range(1, 8)), "layers 1-7; no logits: the halves share no classes"
    assert similarity["mean"].between(0, 1).all() and (similarity["units"] == 1).all()
    assert similarity["ci95_low"].isna().all(), "one unit: no interval, never 0"
    fine_tuned = similarity[similarity["pair"] != "baseA vs baseB"]
    assert len(fine_tuned) == 2 * 28, "BnB+ and AnB+ at each of their copied layers"
    assert (fine_tuned["layer"] <= fine_tuned["n"]).all()
    probes = pd.read_csv(tables / "probes.csv")
    assert set(probes["probe"]) == {"transfer", "selffer", "drop"} and set(probes["n"]) == set(range(1, 8))
    assert probes.loc[probes["probe"] != "drop", "mean"].between(0.2, 1).all()
    measures = pd.read_csv(tables / "layer_measures.csv")
    assert measures.groupby("measure").size().to_dict() == {"one_minus_cka": 7, "probe_drop": 7, "transfer_drop": 7}
    correlations = pd.read_csv(tables / "layer_measure_correlations.csv")
    assert set(correlations["measure"]) == {"one_minus_cka", "probe_drop"}
    assert correlations["spearman_rho"].between(-1, 1).all() and (correlations["layers"] == 7).all()
    for name in ("layer_measures", "filters"):
        for ext in ("png", "pdf"):
            assert (run_dir(finished_run) / f"figures/{name}.{ext}").stat().st_size > 10_000


@pytest.mark.slow
def test_the_base_nets_start_before_the_nets_nothing_waits_on(tmp_path):
    """The train_net rule's priority (plan.Plan.dependents): the random-frozen controls R1B ... R7B need no base
    net, yet on 2 cores the first two training jobs are the two base nets the transfer nets wait on (without
    the priority the first two were any two of the nine nets that could start)."""
    controls = tmp_path / "controls.yaml"
    controls.write_text(yaml.safe_dump({"treatments": ["selffer", "transfer", "random_frozen"], "train": {"epochs": 1}}))
    result = run_snakemake(tmp_path, "--cores", "2", "results/controls/checkpoints_removed.txt",
                           config=[ROOT / "tests/smoke.yaml", controls])
    started = re.findall(r"wildcards: split=\w+, seed=\d+, net=(\S+)", result.stdout + result.stderr)
    assert sum(net.startswith("R") for net in started) == 7, started
    assert sorted(started[:2]) == ["baseA", "baseB"], started


def test_second_run_has_nothing_to_do(finished_run):
    assert planned_jobs(run_snakemake(finished_run, "-n")) == {}


def _files(folder) -> dict:
    """{path under folder: (size, mtime in ns)} of every file, .snakemake's bookkeeping left out."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and ".snakemake" not in p.parts}


def test_a_second_run_lives_beside_the_first_and_shares_its_data_cache(finished_run, tmp_path):
    """Another config over the same data in the same working directory: its own folder under results/, the
    smoke run's cache reused (no cache_dataset job), and the smoke run left as it was. Planned in full, and
    really run for one net (1 epoch): every file it writes is under results/fewer_layers/."""
    workdir = tmp_path / "copy"
    shutil.copytree(finished_run, workdir, symlinks=True)
    other = tmp_path / "fewer_layers.yaml"
    other.write_text(f"base: {ROOT / 'tests/smoke.yaml'}\nlayers: [2]\ntrain: {{epochs: 1}}\n")
    planned = run_snakemake(workdir, "-n", config=other)
    jobs = planned_jobs(planned)
    assert "cache_dataset" not in jobs and jobs["train_net"] == 2 + 4  # its base nets and 4 treatments at n = 2
    assert "results/fewer_layers/tables/nets.csv" in planned.stdout and "results/smoke/" not in planned.stdout

    before = _files(workdir)
    net = "results/fewer_layers/nets/random0/seed0/baseA/metrics.json"
    ran = run_snakemake(workdir, "--cores", "2", net, config=other)
    after = _files(workdir)
    assert "cache_dataset" not in ran.stdout + ran.stderr and (workdir / net).is_file()
    assert {path: after[path] for path in before} == before  # the smoke run's files, the cache's too, untouched
    written = set(after) - set(before)
    assert written and all(path.startswith("results/fewer_layers/") for path in written), sorted(written)
    assert planned_jobs(run_snakemake(workdir, "-n")) == {}


def test_report_holds_figures_and_tables(finished_run):
    run_snakemake(finished_run, "--report", "report.html")
    html = (finished_run / "report.html").read_text(errors="replace")
    assert "figure2_top.png" in html and "nets.csv" in html
    assert "layer_measures.png" in html and "filters.png" in html and "similarity.csv" in html


@pytest.mark.parametrize("change, expected", [
    (["plots={'dpi': 100}"], {"draw_figure": 3, "draw_training_curves": 1, "compare_layer_measures": 1,
                               "draw_filter_atlas": 1, "all": 1}),
    (["train={'epochs': 3, 'batch_size': 32, 'lr': 0.03, 'lr_step_epochs': 0}"],
     {"train_net": 30, "remove_finished_checkpoints": 1, "collect_results": 1, "summarize_layers": 1,
      "draw_figure": 3, "collect_epochs": 1, "draw_training_curves": 1, "measure_similarity": 1, "train_probes": 1, "compare_layer_measures": 1,
      "draw_filter_atlas": 1, "all": 1}),
    (["layers=[1, 2, 3]"], {"remove_finished_checkpoints": 1, "collect_results": 1, "summarize_layers": 1,
                            "draw_figure": 3, "collect_epochs": 1, "draw_training_curves": 1,
                            "measure_similarity": 1, "compare_layer_measures": 1, "all": 1}),
    (["checkpoints={'every_minutes': 5, 'keep': True}"], {}),
    (["resources={'nets_per_gpu': 4}"], {}),
    (["train={'epochs': 3, 'batch_size': 32, 'lr': 0.01, 'lr_step_epochs': 0, 'cuda_graphs': True}"], {}),
    (["analyses={'similarity_images': 300}"], {"measure_similarity": 1, "compare_layer_measures": 1, "all": 1}),
    (["analyses={'probe_images_per_class': 100}"], {"train_probes": 1, "compare_layer_measures": 1, "all": 1}),
    (["analyses={'max_features': 512}"], {"measure_similarity": 1, "train_probes": 1, "compare_layer_measures": 1,
                                          "all": 1}),
    (["analyses={'run': []}"], {}),
], ids=["plot-setting", "training-setting", "fewer-layers", "checkpoint-setting", "nets-per-gpu", "cuda-graphs",
        "similarity-images", "probe-images", "max-features", "analyses-off"])
def test_a_change_reruns_exactly_what_it_affects(finished_run, change, expected):
    assert planned_jobs(run_snakemake(finished_run, "-n", "--config", *change)) == expected


def test_checkpoints_left_by_a_run_killed_after_its_last_net_go_in_the_next_run(finished_run, tmp_path):
    """Snakemake killed after the last training job: a rerun with nothing else to do still removes them."""
    workdir = tmp_path / "copy"
    shutil.copytree(finished_run, workdir, symlinks=True)
    (run_dir(workdir) / "checkpoints_removed.txt").unlink()  # killed before that job finished
    left = run_dir(workdir) / "checkpoints/random0/seed0/baseA"
    left.mkdir(parents=True)
    (left / "last.pt").write_bytes(b"checkpoint")
    assert planned_jobs(run_snakemake(workdir, "-n")) == {"remove_finished_checkpoints": 1, "all": 1}
    run_snakemake(workdir, "--cores", "1")
    assert not (run_dir(workdir) / "checkpoints").exists()
    assert "30 nets finished; the checkpoints of 1 removed" in (run_dir(workdir) / "checkpoints_removed.txt").read_text()


def _start(workdir):
    command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
               "--configfile", str(ROOT / "tests/smoke.yaml"), "--cores", "2"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for_a_finished_net(workdir, seen, process, timeout=300):
    """Until more than `seen` nets have their metrics.json (or the run ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((run_dir(workdir) / "nets").rglob("metrics.json"))) > seen:
            return
        time.sleep(0.5)


def test_random_sigkills_cost_nothing_but_time(finished_run, tmp_path):
    """Kill Snakemake and all its jobs at random moments, rerun as the README says (unlock, then the
    same command): the final table equals the uninterrupted run's, and no finished net is retrained."""
    workdir = tmp_path / "faulty"
    workdir.mkdir()
    rng = random.Random(2014)
    finished = {}  # metrics.json -> its content when first seen finished
    for kill_point in range(3):
        process = _start(workdir)
        if kill_point == 0:  # early: in the data, split or first nets' jobs
            time.sleep(rng.uniform(4, 14))
        else:  # once a net more has finished (a busy machine finishes none in a fixed time), then at random
            _wait_for_a_finished_net(workdir, len(finished), process)
            time.sleep(rng.uniform(0, 4))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for path in (run_dir(workdir) / "nets").rglob("metrics.json"):
            finished.setdefault(path, path.read_text())
        run_snakemake(workdir, "--unlock")
    run_snakemake(workdir, "--cores", "2")
    assert finished, "no net had finished before the kills: kill later"
    # Training times differ from run to run: equal content means the net was not trained again (it may
    # be rewritten from its final checkpoint when Snakemake died before recording it as done).
    retrained = [str(p) for p, content in finished.items() if p.read_text() != content]
    assert not retrained, f"finished nets were trained again: {retrained}"
    ours = pd.read_csv(run_dir(workdir) / "tables/nets.csv").drop(columns=TIMING)
    reference = pd.read_csv(run_dir(finished_run) / "tables/nets.csv").drop(columns=TIMING)
    pd.testing.assert_frame_equal(ours, reference)
    assert not (run_dir(workdir) / "checkpoints").exists(), "checkpoints of finished nets are removed"


def test_rest_of_the_paper_dissimilar_split_random_frozen_reduced_data(tmp_path):
    """tests/smoke_paper.yaml: a dissimilar split both ways, random-frozen layers and reduced data on the
    whole task, two seeds: Figure 3, the reduced-data curve and the Section 4.2 / 4.3 findings."""
    run_snakemake(tmp_path, "--cores", "2", config=[ROOT / "tests/smoke.yaml", ROOT / "tests/smoke_paper.yaml"])
    run = run_dir(tmp_path, "smoke_paper")  # the last config file's name
    nets = pd.read_csv(run / "tables/nets.csv")
    by_kind = nets.groupby(["split_kind", "treatment"]).size().to_dict()
    assert by_kind[("dissimilar", "transfer")] == 2 * 2 * 3  # seeds x directions x layers
    assert by_kind[("unsplit", "random_frozen")] == 2 * 3 and by_kind[("unsplit", "base")] == 2 * 3
    assert sorted(nets["images_per_class"].dropna().unique()) == [20, 100]
    # the treatment added beyond the paper (nets.TREATMENTS): its nets, effects and figure legend
    assert by_kind[("random", "transfer_ft_lowlr")] == 2 * 3  # seeds x layers
    assert set(nets.loc[nets["treatment"] == "transfer_ft_lowlr", "net"]) == {"A1B+lr", "A4B+lr", "A7B+lr"}
    effects = pd.read_csv(run / "tables/effects.csv")
    assert {"low_lr_boost", "low_lr_vs_fine_tuning"} <= set(effects["effect"])
    for name in ("figure3", "reduced_data"):
        assert (run / f"figures/{name}.png").stat().st_size > 10_000
    findings = pd.read_csv(run / "tables/findings.csv", dtype={"finding": str}).set_index("finding")
    assert findings.loc[["4.2", "4.3"], "value"].notna().all(), "sections 4.2 and 4.3 were not measured"
    assert findings.loc[["4.2", "4.3"], "units"].tolist() == [2 + 2, 2 + 2]  # clusters: two seeds on each side
    assert (findings["outcome"] != "").all()
    per_layer = pd.read_csv(run / "tables/per_layer.csv")
    assert (per_layer.loc[per_layer["treatment"] == "transfer", "count"] >= 2).all()  # spread over seeds
    similarity = pd.read_csv(run / "tables/similarity.csv")
    base = similarity[similarity["pair"] == "baseA vs baseB"]
    assert set(base["group"]) == {"random", "dissimilar"} and (base["units"] == 2).all()  # one per seed
    assert (base["ci95_low"] <= base["mean"]).all() and (base["mean"] <= base["ci95_high"]).all()
    assert not (run / "analyses/whole").exists(), "the unsplit task has no baseB to compare"
    measures = pd.read_csv(run / "tables/layer_measures.csv")
    assert set(measures.loc[measures["measure"] == "transfer_drop", "n"]) == {1, 4, 7}


def test_every_transfer_net_is_wired_to_the_right_base(finished_run):
    """In the real smoke DAG: each net copies from the base net its name says (A3B from baseA, B3B from
    baseB, same split and seed): its recorded source hash is that base's file, and a frozen net's first n
    layers are that base's, bit for bit."""
    nets = run_dir(finished_run) / "nets/random0/seed0"
    bases = {half: load_file(str(nets / f"base{half}/weights.safetensors")) for half in "AB"}
    digests = {half: hashlib.sha256((nets / f"base{half}/weights.safetensors").read_bytes()).hexdigest()
               for half in "AB"}
    checked = 0
    for folder in sorted(nets.iterdir()):
        spec = parse_net(folder.name)
        if spec.source not in ("A", "B"):
            continue
        provenance = json.loads((folder / "metrics.json").read_text())["provenance"]
        assert provenance["source_sha256"] == digests[spec.source], folder.name
        if not spec.fine_tuned:
            weights = load_file(str(folder / "weights.safetensors"))
            copied = [k for k in weights if k.split(".")[0] in LAYER_NAMES[:spec.n]]
            assert copied and all(torch.equal(weights[k], bases[spec.source][k]) for k in copied), folder.name
            other = bases["B" if spec.source == "A" else "A"]
            assert not any(torch.equal(weights[k], other[k]) for k in copied), folder.name
        checked += 1
    assert checked == 28


@pytest.mark.slow
def test_a_finished_run_ends_with_its_summary(finished_run):
    """The run's last words: one line per finding of findings.csv, its figures and the report's command."""
    said = (finished_run / "snakemake.stderr").read_text()
    summary = said[said.index("Findings ("):]
    findings = pd.read_csv(finished_run / "results/smoke/tables/findings.csv", dtype={"finding": str})
    for finding in findings["finding"].astype(str):
        assert f"finding {finding} (" in summary
    assert "results/smoke/figures/figure2_top.{png,pdf}" in summary
    listed = set(re.findall(r"results/smoke/tables/(\w+)\.csv", summary[summary.index("Tables:"):]))
    assert listed == {path.stem for path in (run_dir(finished_run) / "tables").glob("*.csv")}, "every table, once"
    assert "--report results/smoke/report.html" in summary
    # and the summary command, later, prints the report command the run recorded, with its config file
    again = subprocess.run([sys.executable, "-m", "transferability", "summary", "results/smoke"], cwd=finished_run,
                           env=package_env(), capture_output=True, text=True, check=True).stdout
    assert (f"snakemake --configfile {ROOT / 'tests/smoke.yaml'} --report results/smoke/report.html"
            in again.replace(" \\\n      ", " ")), again


def _checkout_copy(tmp_path):
    """The workflow's files in another folder, without compiled modules."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("Snakefile", "workflow", "envs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, copy / name)
    shutil.rmtree(copy / "workflow/transferability/__pycache__", ignore_errors=True)
    return copy


def test_another_checkout_plans_its_run_with_its_own_package(tmp_path):
    """Snakemake's start imports every executor plugin on sys.path, slurm-watched too, which the venv finds
    in the pip-installed checkout: were transferability imported with it, a dry run of another checkout
    would be planned by the installed checkout's package, not its own (its edits ignored)."""
    copy = _checkout_copy(tmp_path)
    with open(copy / "workflow/transferability/__init__.py", "a") as f:
        f.write("\nimport sys\nprint(f'transferability imported from {__file__}', file=sys.stderr)\n")
    command = [SNAKEMAKE, "-s", str(copy / "Snakefile"), "-d", str(tmp_path / "work"), "--configfile",
               str(ROOT / "tests/smoke.yaml"), "-n"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.findall(r"transferability imported from (\S+)", done.stderr) == [
        str(copy / "workflow/transferability/__init__.py")], done.stderr[-3000:]


def _planned_from(copy, workdir):
    command = [SNAKEMAKE, "-s", str(copy / "Snakefile"), "-d", str(workdir), "--configfile",
               str(ROOT / "tests/smoke.yaml"), "-n"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return planned_jobs(done)


def test_edited_analysis_code_reruns_its_tables_and_figures_and_no_net(finished_run, tmp_path):
    """Snakemake sees a shell rule's command, not the package code behind it: each table, figure and
    analysis rule has its code's hash as a param (plan.code_version), so an edited or upgraded module
    reruns what it computes, and never a net."""
    copy = _checkout_copy(tmp_path)
    assert _planned_from(copy, finished_run) == {}  # the same code in another folder: nothing to do
    with open(copy / "workflow/transferability/analysis.py", "a") as f:
        f.write("\n# edited\n")
    planned = _planned_from(copy, finished_run)
    assert {"summarize_layers", "draw_training_curves", "draw_figure"} <= set(planned), planned
    assert not {"train_net", "collect_results", "collect_epochs", "cache_dataset", "split_classes"} & set(planned)


def test_an_edited_command_reruns_its_rule_and_no_other(finished_run, tmp_path):
    """A command's own module is part of its code too (here: the decimals summarize writes), and no other's."""
    copy = _checkout_copy(tmp_path)
    command = copy / "workflow/transferability/commands/summarize.py"
    source = command.read_text()
    edited = source.replace('decimals=6 if name == "unit_effects" else 4', 'decimals=6 if name == "unit_effects" else 5')
    assert edited != source
    command.write_text(edited)
    assert set(_planned_from(copy, finished_run)) == {"summarize_layers", "draw_figure", "all"}


@pytest.mark.slow
def test_failed_nets_end_the_run_with_their_own_error_line_and_log(tmp_path):
    """Snakemake's error block of a failed training job is its whole command, JSON --settings included; the
    run's last words must be each failed job's own: its rule and net, its log's last line, its log's path.
    (A real failure: a cached image file cut in half after the cache was made, on a tiny data set.)"""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"base": str(ROOT / "tests/smoke.yaml"), "train": {"epochs": 1}, "dataset": {
        "kind": "synthetic", "synthetic": {"classes": 4, "train_per_class": 20, "val_per_class": 5,
                                           "image_size": 16, "channels": 1, "seed": 0}}}))
    run_snakemake(tmp_path, "--cores", "1", "results/tiny/splits/random0.tsv", config=config)
    images = next((tmp_path / "results/cache").glob("*/train_images.npy"))
    images.write_bytes(images.read_bytes()[:images.stat().st_size // 2])
    nets = [f"results/tiny/nets/random0/seed0/{net}/metrics.json" for net in ("baseA", "baseB")]
    result = run_snakemake(tmp_path, "--cores", "2", "--retries", "0", *nets, config=config, check=False)
    assert result.returncode != 0
    said = result.stderr[result.stderr.rindex("Error in rule"):]  # what follows Snakemake's last error block
    ours = said[said.index("2 jobs failed"):said.index("Complete log(s):")]  # then Snakemake's last 4 lines
    assert "--settings" not in ours and all(len(line) <= 110 for line in ours.splitlines()), ours
    read = " ".join(line.strip() for line in ours.splitlines())  # the error lines are wrapped
    for net in ("baseA", "baseB"):
        assert (f"train_net (split=random0, seed=0, net={net}): error: {images.relative_to(tmp_path)} is truncated "
                f"or corrupt (mmap length is greater than file size); delete it and rerun "
                f"log: results/tiny/logs/train_net/random0/seed0/{net}.log") in read, ours
