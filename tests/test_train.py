"""Training jobs: model surgery (copy, freeze, fine-tune), determinism, restartability."""

import csv
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import package_env, settings
from transferability import checkpoint
from transferability.batches import normalise
from transferability.io import read_json
from transferability.model import LAYER_NAMES, build_model
from transferability import train as train_module
from transferability.run_options import RunOptions
from transferability.train import Job, derived_seed, prepare_run, settings_hash, train


def job_for(workdir, net, out, epochs=2, source=None, **train_settings):
    return Job(settings=settings(net, epochs, **train_settings), data_dir=workdir / "results/data",
               split_file=workdir / "results/splits/random0.tsv", out_dir=out, checkpoint_dir=out / "ckpt",
               source_weights=source)


@pytest.fixture(scope="module")
def base_a(workdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseA")
    train(job_for(workdir, "baseA", out, epochs=1), log=lambda _: None)
    return out / "weights.safetensors"


def train_step(run, index):
    run.train_step(index, run.train_data.images[index])


def cpu_state(*modules):
    """The modules' weights on the CPU, where the saved files are (the run may be on a GPU)."""
    return {k: v.cpu() for module in modules for k, v in module.state_dict().items()}


def layer_keys(weights, names):
    return [k for k in weights if k.split(".")[0] in names]


def test_frozen_layers_stay_bit_equal_and_get_no_gradient(workdir, base_a, tmp_path):
    run = prepare_run(job_for(workdir, "A3B", tmp_path, source=base_a), log=lambda _: None)
    grad_enabled = []
    run.frozen.register_forward_pre_hook(lambda *_: grad_enabled.append(torch.is_grad_enabled()))
    for step in range(3):
        train_step(run, torch.arange(step * 32, (step + 1) * 32))
    assert grad_enabled == [False] * 3  # the frozen prefix runs without autograd: no backward through it
    assert all(p.grad is None and not p.requires_grad for p in run.frozen.parameters())
    optimised = [p for group in run.optimizer.param_groups for p in group["params"]]
    assert {id(p) for p in optimised} == {id(p) for p in run.trainable.parameters()}
    source, now = load_file(str(base_a)), cpu_state(run.frozen, run.trainable)
    for key in layer_keys(source, {"conv1", "conv2", "conv3"}):
        assert torch.equal(now[key], source[key]), key
    for key in layer_keys(source, {"conv4", "conv5", "fc6", "fc7"}):  # re-initialised, then trained
        assert not torch.equal(now[key], source[key]), key


def test_fine_tuned_net_starts_from_the_copy_and_changes_every_layer(workdir, base_a, tmp_path):
    run = prepare_run(job_for(workdir, "A3B+", tmp_path, source=base_a), log=lambda _: None)
    source = load_file(str(base_a))
    start = cpu_state(run.trainable)
    for key in layer_keys(source, {"conv1", "conv2", "conv3"}):
        assert torch.equal(start[key], source[key]), key
    assert len(run.frozen) == 0
    for step in range(3):
        train_step(run, torch.arange(step * 32, (step + 1) * 32))
    now = cpu_state(run.trainable)
    for key in layer_keys(source, {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"}):
        assert not torch.equal(now[key], source[key]), key


def test_random_frozen_layers_keep_their_initial_weights(workdir, tmp_path):
    run = prepare_run(job_for(workdir, "R2B", tmp_path), log=lambda _: None)
    before = {k: v.clone() for k, v in run.frozen.state_dict().items()}
    train_step(run, torch.arange(32))
    assert before and all(torch.equal(v, run.frozen.state_dict()[k]) for k, v in before.items())


def test_same_settings_give_bit_identical_nets(workdir, tmp_path):
    first = train(job_for(workdir, "baseB", tmp_path / "one", epochs=1), log=lambda _: None)
    second = train(job_for(workdir, "baseB", tmp_path / "two", epochs=1), log=lambda _: None)
    one, two = (load_file(str(tmp_path / d / "weights.safetensors")) for d in ("one", "two"))
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert first["top1"] == second["top1"] and first["settings_hash"] == second["settings_hash"]


def test_a_half_too_big_for_memory_is_read_ahead_from_the_cache_with_the_same_result(workdir, tmp_path, monkeypatch):
    resident = train(job_for(workdir, "baseB", tmp_path / "resident", epochs=2), log=lambda _: None)
    monkeypatch.setattr(train_module, "data_budget", lambda device: 0)  # on a GPU: pinned read-ahead
    run = prepare_run(job_for(workdir, "baseB", tmp_path / "mapped", epochs=2), log=lambda _: None)
    assert run.train_data.resident_bytes == run.val_data.resident_bytes == 0
    mapped = run.fit()
    one, two = (load_file(str(tmp_path / d / "weights.safetensors")) for d in ("resident", "mapped"))
    assert all(torch.equal(one[k], two[k]) for k in one)
    timing = {"wall_s", "images_per_s"}
    assert {k: v for k, v in resident.items() if k not in timing} == {k: v for k, v in mapped.items() if k not in timing}


@pytest.mark.slow
def test_a_compiled_net_reports_its_compile_time_and_keeps_its_weight_names(workdir, tmp_path):
    plain = train(job_for(workdir, "baseB", tmp_path / "plain", epochs=1), log=lambda _: None)
    job = job_for(workdir, "baseB", tmp_path / "compiled", epochs=1)
    job.options = RunOptions(compile=True)
    compiled = train(job, log=lambda _: None)
    assert plain["compile_s"] is None and compiled["compile_s"] > 0
    assert compiled["settings_hash"] == plain["settings_hash"]  # a run option, not a setting
    one, two = (load_file(str(tmp_path / d / "weights.safetensors")) for d in ("plain", "compiled"))
    assert one.keys() == two.keys()
    assert compiled["top1"] == pytest.approx(plain["top1"], abs=0.1)  # same training, fused kernels


def test_each_net_has_its_own_random_stream():
    assert derived_seed(0, "baseB") != derived_seed(0, "B3B") != derived_seed(1, "B3B")


def test_outputs_are_complete_and_a_rerun_does_not_train_again(workdir, tmp_path):
    metrics = train(job_for(workdir, "baseB", tmp_path, epochs=2), log=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "epochs.csv", "metrics.json", "usage.tsv",
                                                         "weights.safetensors"]
    assert read_json(tmp_path / "metrics.json") == metrics
    assert metrics["epochs"] == 2 and 0 <= metrics["top1"] <= metrics["top5"] <= 1
    assert len((tmp_path / "epochs.csv").read_text().splitlines()) == 3
    # Snakemake may die before it records the job as done; the rerun then finds the final checkpoint.
    (tmp_path / "metrics.json").unlink()
    lines = []
    assert train(job_for(workdir, "baseB", tmp_path, epochs=2), log=lines.append) == metrics
    assert "resuming from checkpoint: epoch 2, step 0" in lines and not any("/2 " in line for line in lines)


def test_checkpoints_of_finished_nets_are_removed(tmp_path):
    for net in ("done", "running"):
        checkpoint.save(tmp_path / "ckpt/split/seed0" / net, {"settings_hash": "h"})
    (tmp_path / "metrics.json").write_text("{}")
    pairs = [(tmp_path / "metrics.json", tmp_path / "ckpt/split/seed0/done"),
             (tmp_path / "missing.json", tmp_path / "ckpt/split/seed0/running")]
    assert checkpoint.remove_finished(pairs, tmp_path / "ckpt") == 1
    assert [p.name for p in (tmp_path / "ckpt/split/seed0").iterdir()] == ["running"]
    pairs[1][0].write_text("{}")
    assert checkpoint.remove_finished(pairs, tmp_path / "ckpt") == 1
    assert not (tmp_path / "ckpt").exists()


def test_changed_settings_ignore_the_old_checkpoint(workdir, tmp_path):
    job = job_for(workdir, "baseB", tmp_path, epochs=1)
    ours = {"settings": settings_hash(job.settings), "data_fingerprint": "d"}
    checkpoint.save(job.checkpoint_dir, {"identity": {**ours, "settings": "someone-else"}, "epoch": 1})
    lines = []
    assert checkpoint.load(job.checkpoint_dir, ours, log=lines.append) is None
    assert len(lines) == 1 and lines[0].startswith("starting afresh") and "other settings" in lines[0]


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path):
    checkpoint.save(tmp_path, {"identity": {"settings": "h"}, "epoch": 1})
    checkpoint.save(tmp_path, {"identity": {"settings": "h"}, "epoch": 2})
    last = tmp_path / checkpoint.LAST
    last.write_bytes(last.read_bytes()[:40])
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        assert checkpoint.load(tmp_path, {"settings": "h"})["epoch"] == 1


def _train_command(workdir, out, settings_json, minutes, graphs=False):
    return [sys.executable, "-m", "transferability", "train", "--settings", settings_json,
            "--data", str(workdir / "results/data"), "--split", str(workdir / "results/splits/random0.tsv"),
            "--out-dir", str(out), "--checkpoint-dir", str(out / "ckpt"),
            "--run-options", RunOptions(checkpoint_minutes=minutes, cuda_graphs=graphs).to_json()]


# The train command, stopping itself (SIGSTOP) once its first checkpoint is written: the test kills it there,
# whatever the machine's load (a kill timed by polling for the file could come after the job's end).
STOPPED_AFTER_FIRST_CHECKPOINT = """
import os, signal, sys
from transferability import checkpoint, cli
save = checkpoint.save
def save_then_stop(directory, state):
    save(directory, state)
    os.kill(os.getpid(), signal.SIGSTOP)
checkpoint.save = save_then_stop
sys.exit(cli.main(sys.argv[1:]))
"""


def _stopped_at_its_first_checkpoint(command):
    """The train `command` run until it has written its first checkpoint, then SIGKILLed."""
    job = subprocess.Popen([sys.executable, "-c", STOPPED_AFTER_FIRST_CHECKPOINT, *command[3:]], env=package_env(),
                           stdout=subprocess.DEVNULL)
    _, status = os.waitpid(job.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the job ended (status {status}) before its first checkpoint"
    os.kill(job.pid, signal.SIGKILL)
    job.wait()


GRAPHED = pytest.param(True, id="cuda-graphs",
                       marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))


@pytest.mark.parametrize("graphs", [False, GRAPHED])
@pytest.mark.parametrize("minutes", [0, 1e-9], ids=["epoch-checkpoints", "mid-epoch-checkpoints"])
def test_killed_job_resumes_bit_identically(workdir, tmp_path, minutes, graphs):
    """SIGKILL a job once its first checkpoint exists (at the end of its first epoch, or, checkpointing
    after every step, after its first step), rerun it: same weights and scores as a run that was never
    interrupted. With CUDA graphs (on a GPU) the killed and resumed job replays its steps
    and the whole run does not: the same bits, also across the resume's fresh warm-up and capture."""
    import json
    settings_json = json.dumps(settings("baseB", epochs=4))
    whole = subprocess.run(_train_command(workdir, tmp_path / "whole", settings_json, minutes), env=package_env(),
                           capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    _stopped_at_its_first_checkpoint(_train_command(workdir, out, settings_json, minutes, graphs))
    assert not (out / "metrics.json").exists(), "the job finished before it could be killed"
    state = torch.load(out / "ckpt" / checkpoint.LAST, weights_only=True)
    assert (state["epoch"], state["step"]) == ((0, 1) if minutes else (1, 0)), "not the kill point of this case"
    resumed = subprocess.run(_train_command(workdir, out, settings_json, minutes, graphs), env=package_env(),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from checkpoint: epoch {state['epoch']}, step {state['step']}" in resumed.stdout
    whole, killed = (load_file(str(tmp_path / d / "weights.safetensors")) for d in ("whole", "killed"))
    assert whole.keys() == killed.keys() and all(torch.equal(whole[k], killed[k]) for k in whole)
    timing = {"wall_s", "images_per_s"}
    a, b = read_json(tmp_path / "whole/metrics.json"), read_json(out / "metrics.json")
    assert b["provenance"].pop("cuda_graphs") == graphs and a["provenance"].pop("cuda_graphs") is False
    whole_parts, killed_parts = a["provenance"].pop("made_by"), b["provenance"].pop("made_by")
    assert len(whole_parts) == 1 and killed_parts == [{**whole_parts[0], "cuda_graphs": graphs}]  # one part
    assert {k: v for k, v in a.items() if k not in timing} == {k: v for k, v in b.items() if k not in timing}


def test_iterations_and_lr_steps_count_sgd_steps(workdir, tmp_path):
    """The paper's schedule is in iterations: 600 images / batch 32 = 18 steps an epoch, so 25 steps
    are one full epoch and 7 steps of a second, with the rate divided by 10 every 10 steps."""
    metrics = train(job_for(workdir, "baseB", tmp_path, iterations=25, lr_step_iterations=10), log=lambda _: None)
    rows = (tmp_path / "epochs.csv").read_text().splitlines()[1:]
    assert metrics["epochs"] == 2 and len(rows) == 2
    assert [float(r.split(",")[1]) for r in rows] == pytest.approx([0.002, 0.0002])
    assert metrics["images_per_s"] > 0


def test_epochs_csv_gives_the_copied_layers_rate_of_a_low_rate_net(workdir, base_a, tmp_path):
    """A3B+lr trains its copied layers at copied_lr_factor x the rate: epochs.csv says so beside the rate of the
    rest (the lr column alone showed a rate those layers never had); other nets leave copied_lr empty."""
    for net in ("A3B+lr", "A3B+"):
        job = job_for(workdir, net, tmp_path / net, epochs=2, source=base_a, lr_step_epochs=1)
        train(job, log=lambda _: None)
        with open(job.out_dir / "epochs.csv") as f:
            rows = list(csv.DictReader(f))
        assert [float(r["lr"]) for r in rows] == pytest.approx([0.02, 0.002])
        factor = job.settings["train"].get("copied_lr_factor")
        if factor:
            assert [float(r["copied_lr"]) for r in rows] == pytest.approx([0.02 * factor, 0.002 * factor])
            run = prepare_run(job, log=lambda _: None)  # the optimiser's own first-step rates agree
            assert [g["lr"] for g in run.optimizer.param_groups] == pytest.approx([0.02 * factor, 0.02])
        else:
            assert [r["copied_lr"] for r in rows] == ["", ""]


@pytest.mark.parametrize("damage, expected", [
    (lambda w: w.pop("conv2.0.bias"), "source weights lack conv2.0.bias (this net's is (32,))"),
    (lambda w: w.update({"conv3.9.weight": torch.zeros(2)}), "source weights have conv3.9.weight (2,), which this net lacks"),
    (lambda w: w.update({"conv1.0.weight": torch.zeros(8, 1, 3, 3)}),
     "do not fit this net at conv1.0.weight: source (8, 1, 3, 3), this net (16, 1, 3, 3)"),
], ids=["missing-layer", "extra-layer", "other-shape"])
def test_a_source_that_does_not_fit_is_refused(workdir, base_a, tmp_path, damage, expected):
    weights = load_file(str(base_a))
    damage(weights)
    save_file(weights, str(tmp_path / "source.safetensors"))
    with pytest.raises(ValueError, match=re.escape(expected)):
        prepare_run(job_for(workdir, "A3B", tmp_path, source=tmp_path / "source.safetensors"), log=lambda _: None)


@pytest.mark.parametrize("net", ["A3B", "A3B+", "B5A"])
def test_layers_above_n_start_fresh_and_the_first_n_are_the_source(workdir, base_a, tmp_path, net):
    """At step 0, layers 1..n are the source's and layers n+1..8 are the net's own fresh initialisation
    (what a net built from its seed without copying has), not the source's."""
    n = int(net[1])
    run = prepare_run(job_for(workdir, net, tmp_path, source=base_a), log=lambda _: None)
    start, source = cpu_state(run.frozen, run.trainable), load_file(str(base_a))
    torch.manual_seed(derived_seed(0, net))
    fresh = build_model(settings(net)["model"], 1, 5).state_dict()
    copied, above = LAYER_NAMES[:n], LAYER_NAMES[n:]
    for key in layer_keys(start, set(copied)):
        assert torch.equal(start[key], source[key]), key
    for key in layer_keys(start, set(above)):
        assert torch.equal(start[key], fresh[key]), key
        assert not torch.equal(start[key], source[key]), key


def test_the_log_gives_etas_as_h_mm_ss_and_progress_within_long_epochs(workdir, tmp_path):
    """An epoch row ends with the time left as h:mm:ss; within an epoch longer than progress_seconds a line
    says the step, the loss so far and the time left (progress_seconds 0: after every step but the last)."""
    job = job_for(workdir, "baseB", tmp_path, epochs=2)
    job.progress_seconds = 0
    lines = []
    train(job, log=lines.append)
    rows = [line for line in lines if re.match(r"\s*\d+/2 ", line) and "step" not in line]
    within = [line for line in lines if " step " in line]
    assert len(rows) == 2 and all(re.search(r" \d+:\d\d:\d\d$", row) for row in rows), rows
    assert rows[-1].endswith(" 0:00:00")
    assert len(within) == 2 * (600 // 32 - 1), within[:3]  # 18 steps an epoch
    assert re.fullmatch(r"\s*1/2\s+step 1/18 \(6%\), loss \d\.\d{4}, \d+ img/s, epoch left \d+:\d\d:\d\d, "
                        r"ETA \d+:\d\d:\d\d", within[0]), within[0]
    quiet = []
    train(job_for(workdir, "baseB", tmp_path / "quiet", epochs=1), log=quiet.append)
    assert not any(" step " in line for line in quiet)  # short epochs: no lines within them


def test_durations_read_as_hours_minutes_seconds():
    assert [train_module.hms(s) for s in (0, 59.6, 3725, 90000)] == ["0:00:00", "0:01:00", "1:02:05", "25:00:00"]


def test_a_checkpoint_of_another_layout_is_not_resumed(workdir, tmp_path):
    """A checkpoint written by the hand-written SGD (layout 1, before torch.optim) starts the job afresh."""
    job = job_for(workdir, "baseB", tmp_path, epochs=1)
    train(job, log=lambda _: None)
    state = torch.load(job.checkpoint_dir / checkpoint.LAST, weights_only=True)
    del state["format"]
    torch.save(state, job.checkpoint_dir / checkpoint.LAST)
    (job.checkpoint_dir / checkpoint.PREVIOUS).unlink(missing_ok=True)
    (tmp_path / "metrics.json").unlink()
    lines = []
    train(job, log=lines.append)
    assert any(line.startswith("starting afresh") and "layout" in line for line in lines), lines


def test_inputs_are_normalised_into_the_dtype_conv1_computes_in_with_autocasts_rounding():
    """With bf16 autocast the scaling writes bf16 (autocast's cast of the fp32 inputs would round each value
    the same way, in a pass of its own), in channels_last; in fp32 nothing changes."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 9, 9), dtype=torch.uint8, generator=generator)
    images = images.contiguous(memory_format=torch.channels_last)
    mean = torch.tensor([120.5, 99.25, 87.0]).view(1, -1, 1, 1)
    inv_std = 1 / torch.tensor([60.1, 55.3, 58.7]).view(1, -1, 1, 1)
    fp32 = images.to(torch.float32).sub_(mean).mul_(inv_std)  # what conv1 was given before, cast by autocast
    assert torch.equal(normalise(images, mean, inv_std), fp32)
    bf16 = normalise(images, mean, inv_std, torch.bfloat16)
    assert bf16.dtype == torch.bfloat16 and bf16.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(bf16, fp32.to(torch.bfloat16))


def _stopped_after_two_steps(job) -> None:
    """A checkpoint of the job's net as a kill after its second step would leave it."""
    run = prepare_run(job, log=lambda _: None)
    for step in range(2):
        train_step(run, torch.arange(step * 32, (step + 1) * 32))
        run.step += 1
    run.save_checkpoint()


@pytest.mark.parametrize("threads_on_resume, parts", [(1, 1), (2, 2)], ids=["same-threads", "other-threads"])
def test_a_resume_records_the_conditions_of_each_part_of_the_run(workdir, tmp_path, threads_on_resume, parts):
    """On the CPU 1 and 2 threads round differently and train different nets, and threads are not a setting,
    so a checkpoint is resumed under other threads all the same: the log says the net is neither run's, and
    metrics.json's provenance.made_by records the conditions from each resume point on. A resume under the
    same conditions (bit-identical to a run never stopped) keeps one part."""
    job = job_for(workdir, "baseB", tmp_path, epochs=1)
    _stopped_after_two_steps(job)
    job.threads, lines, threads_before = threads_on_resume, [], torch.get_num_threads()
    try:
        made_by = train(job, log=lines.append)["provenance"]["made_by"]
    finally:
        torch.set_num_threads(threads_before)  # prepare_run() set this process's threads
    assert [(p["from_epoch"], p["from_step"], p["threads"]) for p in made_by] == [(0, 0, 1), (0, 2, 2)][:parts]
    assert made_by[0]["device"] == train_module.device_model(torch.device("cpu")) != "cpu"
    other = [line for line in lines if line.startswith("resuming under other conditions")]
    assert len(other) == parts - 1 and all("(threads 1 -> 2)" in line for line in other), lines


def test_a_checkpoint_without_a_record_of_its_conditions_starts_the_record_at_the_resume(workdir, tmp_path):
    job = job_for(workdir, "baseB", tmp_path, epochs=1)
    _stopped_after_two_steps(job)
    state = torch.load(job.checkpoint_dir / checkpoint.LAST, weights_only=True)
    del state["made_by"]  # as an older version wrote it
    torch.save(state, job.checkpoint_dir / checkpoint.LAST)
    lines = []
    made_by = train(job, log=lines.append)["provenance"]["made_by"]
    assert [(p["from_epoch"], p["from_step"]) for p in made_by] == [(0, 2)]  # the steps before: unrecorded
    assert not any("other conditions" in line for line in lines), lines


def _precision_of_a_trained_net(workdir, out, precision, **env) -> tuple[str, dict]:
    """A real training job (`python -m transferability train`) with train.precision set to `precision`,
    under the environment's extra variables: its log and metrics.json."""
    settings_json = json.dumps(settings("baseB", epochs=1, precision=precision))
    done = subprocess.run(_train_command(workdir, out, settings_json, 0), env=package_env(**env), capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout, read_json(out / "metrics.json")


@pytest.mark.parametrize("isa", [None, "AVX2"], ids=["this-cpu", "avx2-cpu"])
def test_auto_precision_is_bf16_only_where_the_cpu_computes_it_natively(workdir, tmp_path, isa):
    """oneDNN's ONEDNN_MAX_CPU_ISA=AVX2 makes a CPU with bf16 units behave as one without (where bf16
    autocast is emulated: 11 times slower than fp32 on this emulation, benchmarks/README.md). `auto` trains such a CPU's nets
    in fp32, says so in the log's first line, and records it in metrics.json (provenance and made_by)."""
    log, metrics = _precision_of_a_trained_net(workdir, tmp_path, "auto", **({"ONEDNN_MAX_CPU_ISA": isa} if isa else {}))
    native = isa is None and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    expected = "bf16" if native else "fp32"
    assert metrics["provenance"]["precision"] == expected
    assert [part["precision"] for part in metrics["provenance"]["made_by"]] == [expected]
    reason = f"{expected} (train.precision auto: this device {'has' if native else 'lacks'} bf16 units)"
    assert reason in log.splitlines()[0], log


def test_an_explicit_precision_is_kept_on_any_cpu(workdir, tmp_path):
    """train.precision: bf16 forces bf16 even where it is emulated (and fp32 stays fp32 where bf16 is native)."""
    log, metrics = _precision_of_a_trained_net(workdir, tmp_path / "bf16", "bf16", ONEDNN_MAX_CPU_ISA="AVX2")
    assert metrics["provenance"]["precision"] == "bf16" and ", bf16, settings" in log.splitlines()[0], log
    _, metrics = _precision_of_a_trained_net(workdir, tmp_path / "fp32", "fp32")
    assert [part["precision"] for part in metrics["provenance"]["made_by"]] == ["fp32"]


def test_a_resume_in_another_precision_says_so(workdir, tmp_path, monkeypatch):
    """`auto` is a run condition like threads: a checkpoint made on a CPU without bf16 units (fp32) and
    resumed on one with them (bf16) is resumed, and the log and made_by say the net is neither run's."""
    from transferability import devices

    job = job_for(workdir, "baseB", tmp_path, epochs=1, precision="auto")
    monkeypatch.setattr(devices, "computes_bf16_natively", lambda device: False)
    _stopped_after_two_steps(job)
    monkeypatch.setattr(devices, "computes_bf16_natively", lambda device: True)
    lines = []
    made_by = train(job, log=lines.append)["provenance"]["made_by"]
    assert [(p["from_step"], p["precision"]) for p in made_by] == [(0, "fp32"), (2, "bf16")]
    other = [line for line in lines if line.startswith("resuming under other conditions")]
    assert len(other) == 1 and "(precision fp32 -> bf16)" in other[0], lines
