"""Train one net of the experiment: build it, copy (and maybe freeze) its first n layers, train on its half.

`train(job)` = `prepare_run(job).fit()`: prepare_run picks the device (claiming a GPU slot), selects the data and
builds the net into a Run; Run.fit is the whole loop (epochs of Run.train_step, an evaluation and a
checkpoint after each). Around it, apart: the checkpoint state (Run.state_dict), the log (Progress), the
final files and metrics (write_outputs, final_metrics).

A job is restartable: it checkpoints every epoch (and every few minutes if asked) and, when started
again with the same settings, continues exactly where it stopped. Its final files are written last
and atomically. The workflow removes the checkpoints of finished nets after a successful run.
"""

import csv
import hashlib
import importlib.metadata
import json
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from . import checkpoint, environment, nets
from .batches import centre_crop, crop_and_mirror, normalise, select_half
from .data import load_cache
from .devices import pick_device, resolve_precision, usable_gpu_bytes
from .graphs import StepGraph
from .io import atomic_path, file_sha256, write_json
from .memory import keep_freed_memory
from .model import build_model, keep_batch_norm_statistics, unit_names
from .nets import EPOCHS_FILE, METRICS_FILE, WEIGHTS_FILE, parse_net
from .optim import sgd, step_factor, step_schedule
from .run_options import RunOptions
from .splits import read_split
from .usage import hms, write_usage

HOST_DATA_BYTES = 8e9
GPU_DATA_FRACTION = 0.5  # the rest is for the net's activations
EPOCH_COLUMNS = ["epoch", "lr", "copied_lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5",
                 "train_s", "eval_s", "images_per_s"]


@dataclass
class Job:
    settings: dict  # everything that decides the result; hashed (see settings_hash)
    data_dir: Path
    split_file: Path
    out_dir: Path  # receives weights.safetensors, epochs.csv, metrics.json (last)
    checkpoint_dir: Path
    source_weights: Path | None = None
    threads: int = 1
    options: RunOptions = field(default_factory=RunOptions)  # how it runs: device, checkpoints, compilation
    progress_seconds: float = 30.0  # within an epoch, a progress line this often


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def derived_seed(seed: int, net: str) -> int:
    """Each net gets its own random stream, so a selffer's new upper layers do not start from
    its base net's initial weights."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{net}".encode()).digest()[:7], "big")


def build_net(settings: dict, in_channels: int, n_classes: int, source_weights=None):
    """The net of `settings['net']`, initialised from its seed, with the source's first n layers copied.
    Returns (frozen prefix, trainable rest); the frozen prefix has requires_grad off."""
    spec = parse_net(settings["net"])
    torch.manual_seed(derived_seed(settings["seed"], spec.name))
    model = build_model(settings["model"], in_channels, n_classes)
    if spec.n >= len(model):
        raise ValueError(f"net {spec.name} copies {spec.n} units, but this net has {len(model)} "
                         f"({', '.join(unit_names(model))}): n can be 1..{len(model) - 1}")
    if spec.source_net:
        copy_layers(model, load_file(str(source_weights)), spec.n)
    frozen, trainable = model[:spec.frozen_layers], model[spec.frozen_layers:]
    frozen.requires_grad_(False)
    return frozen, trainable


def copy_layers(model: torch.nn.Sequential, source: dict, n: int) -> None:
    """Copy the first n layers from the source's weights; every tensor of them must be there, fit, and
    nothing else may be (a layer left random and frozen would pass for a transferred one)."""
    prefixes = tuple(f"{name}." for name in unit_names(model)[:n])
    own = {k: v for k, v in model.state_dict().items() if k.startswith(prefixes)}
    copied = {k: v for k, v in source.items() if k.startswith(prefixes)}
    hint = "was the base net trained with another model config or data set?"
    for key in sorted(own.keys() - copied.keys()):
        raise ValueError(f"source weights lack {key} (this net's is {tuple(own[key].shape)}); {hint}")
    for key in sorted(copied.keys() - own.keys()):
        raise ValueError(f"source weights have {key} {tuple(copied[key].shape)}, which this net lacks; {hint}")
    for key in sorted(own):
        if own[key].shape != copied[key].shape:
            raise ValueError(f"source weights do not fit this net at {key}: source {tuple(copied[key].shape)}, "
                             f"this net {tuple(own[key].shape)}; {hint}")
    model.load_state_dict(copied, strict=False)


def net_identity(settings: dict, meta: dict, classes: list[int], source_weights) -> dict:
    """Everything that decides a net's bits: a checkpoint is resumed only if its identity is this one."""
    return {"settings": settings_hash(settings), "data_fingerprint": meta["fingerprint"],
            "split_classes": [meta["classes"][i] for i in classes],
            "source_sha256": file_sha256(source_weights) if source_weights else None}


def provenance(identity: dict, device: torch.device, precision: str, cuda_graphs: bool = False) -> dict:
    """What metrics.json records of how the net was made (besides its settings)."""
    return {**{k: v for k, v in identity.items() if k != "settings"}, "package": _package_version(),
            "git_commit": _git_commit(), "torch": torch.__version__, "device": str(device), "precision": precision,
            "cuda_graphs": cuda_graphs and device.type == "cuda", **environment.lock_record()}


def device_model(device: torch.device) -> str:
    """The GPU's or CPU's model: what a net's bits may depend on (cuda:0 is not a model)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or "cpu"


def _package_version() -> str | None:
    try:
        return importlib.metadata.version("transferability")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without an install
        return None


def _git_commit() -> str | None:
    """The workflow's commit (with -dirty for local changes) when it runs from a git checkout."""
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=Path(__file__).parent,
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if described.returncode != 0:  # not a checkout (an installed copy), or git refuses
        return None
    return described.stdout.strip() or None


def train(job: Job, log=print) -> dict:
    """Train the job's net (resuming from its checkpoint if any) and write its final files."""
    return prepare_run(job, log).fit()


def data_budget(device: torch.device) -> float:
    """Bytes of uint8 images a job keeps in memory (on the GPU for a GPU job, within its share of a shared
    GPU); larger halves are read from the memory-mapped cache batch by batch."""
    if device.type == "cpu":
        return HOST_DATA_BYTES
    return GPU_DATA_FRACTION * usable_gpu_bytes(device)


def prepare_run(job: Job, log=print) -> "Run":
    """The job's Run, ready to fit(): its device (holding a GPU slot), its data halves and its net."""
    torch.set_num_threads(job.threads)
    keep_freed_memory()
    spec = parse_net(job.settings["net"])
    device, gpu_lock = pick_device(job.options.device, log=log, nets_per_gpu=job.options.nets_per_gpu)
    cache = load_cache(job.data_dir)
    classes = read_split(job.split_file)[spec.target]
    budget = data_budget(device)
    train_data = select_half(cache.train_images, cache.train_labels, classes, spec.images_per_class, device, budget)
    val_data = select_half(cache.val_images, cache.val_labels, classes, None, device,
                           budget - train_data.resident_bytes)
    net = build_net(job.settings, cache.meta["channels"], len(classes), job.source_weights)
    identity = net_identity(job.settings, cache.meta, classes, job.source_weights)
    return Run(job, net, (train_data, val_data), cache.meta, identity, device, gpu_lock, log)


class Run:
    """One net's training: its net, data, optimiser and schedule, and the loop that trains it (fit)."""

    def __init__(self, job: Job, net, data, meta: dict, identity: dict, device: torch.device, gpu_lock=None,
                 log=print):
        """`net`: (frozen prefix, trainable rest) as build_net returns them; `data`: (training, validation)
        HalfData; `gpu_lock`: the GPU slot's lock file (pick_device), held for as long as the run exists."""
        self.job, self.log, self.device, self.gpu_lock = job, log, device, gpu_lock
        self.cfg, self.augment = job.settings["train"], job.settings["augment"]
        self.frozen, self.trainable = (part.to(device, memory_format=torch.channels_last) for part in net)
        self.train_mode()
        self.train_data, self.val_data = data
        self.identity, self.hash = identity, settings_hash(job.settings)
        self.size = job.settings["model"]["input_size"]
        self.mean = torch.tensor(meta["mean"], device=device).view(1, -1, 1, 1)
        self.inv_std = 1 / torch.tensor(meta["std"], device=device).view(1, -1, 1, 1)
        if device.type == "cuda":  # cuDNN's fastest convolutions may add in any order: reruns and resumes
            torch.backends.cudnn.deterministic = True  # must give the same bits, as on the CPU
        self.batch = min(self.cfg["batch_size"], len(self.train_data))
        self.steps = len(self.train_data) // self.batch  # per epoch
        self.total_steps = self.cfg.get("iterations") or self.cfg["epochs"] * self.steps
        self.n_epochs = -(-self.total_steps // self.steps)
        self.lr_every = self.cfg.get("lr_step_iterations") or self.cfg["lr_step_epochs"] * self.steps
        self.optimizer = sgd(param_groups(self.trainable, job.settings), self.cfg)
        self.schedule = step_schedule(self.optimizer, self.cfg["lr_decay"], self.lr_every)
        self.generator = torch.Generator(device).manual_seed(derived_seed(job.settings["seed"], "data"))
        # bf16 autocast: about twice the speed on GPUs and on CPUs with bf16 units (AMX, AVX-512 BF16), 11
        # times slower than fp32 where it is emulated (train.precision: auto picks it only where it is native);
        # weights, optimiser state and the loss stay in fp32.
        # No autocast cache: a graph must not keep casts made while it was captured (each weight is cast
        # once per forward anyway, so the cache saved nothing).
        self.precision = resolve_precision(self.cfg["precision"], device)
        self.autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16",
                             cache_enabled=False)
        # What the steps call; the modules themselves keep the plain net's parameters and state_dict keys.
        self.frozen_forward, self.trainable_forward = (
            torch.compile(part) if job.options.compile and len(part) else part for part in (self.frozen, self.trainable))
        self.forward_backward, self.eval_logits = self._forward_backward, self._eval_logits
        self.graph_grads = None  # the gradients a captured step writes: checked before each optimiser step
        if job.options.cuda_graphs:  # fixed shapes: every training batch is full; the last evaluation batch runs eagerly
            refuse_with_graphs(job)
            capture = device.type == "cuda"
            self.forward_backward = StepGraph(self._forward_backward, capture)
            self.eval_logits = StepGraph(self._eval_logits, capture)
            log("train.cuda_graphs: each step's kernels " + ("replayed as a CUDA graph" if capture else
                "run eagerly through the graph's fixed tensors (no CUDA graphs on the CPU)"))
        self.compile_s = None  # seconds of the first compiled step, in this process
        self.made_by = [{"from_epoch": 0, "from_step": 0, **self.conditions()}]  # each part's conditions
        self.epoch, self.step, self.perm, self.rows, self.sums = 0, 0, None, [], _empty_sums()
        self.progress = Progress(self, job.progress_seconds)

    @property
    def input_dtype(self) -> torch.dtype:
        """What conv1 computes in, so what the inputs are normalised into (batches.normalise)."""
        return torch.bfloat16 if self.autocast["enabled"] else torch.float32

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train epoch by epoch from where the last checkpoint stopped (if any), then write the final files."""
        self.resume()
        self.progress.start()
        while self.epoch < self.n_epochs:
            steps = min(self.steps, self.total_steps - self.epoch * self.steps)  # the last may stop early
            if self.perm is None:  # a run resumed within an epoch keeps that epoch's order
                self.perm = torch.randperm(len(self.train_data), generator=self.generator, device=self.device)
            self.progress.start_epoch()
            start = last_save = time.perf_counter()
            for index, images in self.train_data.batches(self.perm, self.batch, self.step, steps, self.device):
                self.train_step(index, images)
                self.step += 1
                self.progress.step_done(steps)
                if self.step < steps and self.checkpoint_due(last_save):
                    self.sums["seconds"] += time.perf_counter() - start  # training time, not the checkpoint's
                    self.save_checkpoint()
                    start = last_save = time.perf_counter()
            self.synchronize()
            self.sums["seconds"] += time.perf_counter() - start
            self.end_epoch(steps)
            self.save_checkpoint()
        return write_outputs(self)

    def train_step(self, index: torch.Tensor, images: torch.Tensor) -> None:
        """One SGD step: augment the batch, forward, backward (a CUDA graph's part, with cuda_graphs), update."""
        compiling, start = self.job.options.compile and self.compile_s is None, time.perf_counter()
        images = crop_and_mirror(images, self.size, self.augment["crop_padding"], self.augment["mirror"], self.generator)
        labels = self.train_data.labels[index]
        loss, logits = self.forward_backward(images, labels)
        self.check_graph_grads()
        self.optimizer.step()
        self.schedule.step()
        # The running sums stay on the device: reading them every step would stall a GPU's queue.
        self.sums["loss"] += loss.detach().double() * len(index)
        self.sums["correct"] += (logits.argmax(1) == labels).sum()
        self.sums["seen"] += len(index)
        if compiling:  # the first compiled step also compiled the forward and backward graphs
            self.synchronize()
            self.compile_s = time.perf_counter() - start
            self.log(f"torch.compile: the first step took {self.compile_s:.1f} s")

    def _forward_backward(self, images: torch.Tensor, labels: torch.Tensor):
        """Forward (the frozen prefix without an autograd graph), loss and backward into fresh gradients."""
        self.optimizer.zero_grad()
        with torch.autocast(**self.autocast):
            with torch.no_grad():  # no graph, no backward pass through the frozen prefix
                features = self.frozen_forward(normalise(images, self.mean, self.inv_std, self.input_dtype))
            logits = self.trainable_forward(features)
            loss = F.cross_entropy(logits, labels)
        loss.backward()
        return loss.detach(), logits.detach()

    def check_graph_grads(self) -> None:
        """After a capture the optimiser must read the very gradient tensors each replay writes: SGD skips a
        parameter whose .grad is None, so a zero_grad() outside the graph would silently freeze layers."""
        if getattr(self.forward_backward, "graph", None) is None:
            return
        grads = [p.grad for group in self.optimizer.param_groups for p in group["params"]]
        if self.graph_grads is None:
            self.graph_grads = grads
        elif any(a is not b for a, b in zip(grads, self.graph_grads)):
            raise RuntimeError("train.cuda_graphs: a parameter's gradient was replaced outside the captured step")

    def end_epoch(self, steps: int) -> None:
        """Evaluate, record the epoch's row and go on to the next epoch."""
        start = time.perf_counter()
        scores = self.evaluate()
        lr = self.cfg["lr"] * step_factor(self.epoch * self.steps + steps - 1, self.cfg["lr_decay"], self.lr_every)
        row = epoch_row(self.epoch + 1, lr, plain_sums(self.sums), scores, steps * self.batch,
                        time.perf_counter() - start, self.cfg.get("copied_lr_factor"))
        self.rows.append(row)
        self.epoch, self.step, self.perm, self.sums = self.epoch + 1, 0, None, _empty_sums()
        self.progress.epoch_done(row)

    def checkpoint_due(self, last_save: float) -> bool:
        """Whether checkpoint_minutes have passed since the last checkpoint (0: only at the end of epochs)."""
        return 0 < 60 * self.job.options.checkpoint_minutes < time.perf_counter() - last_save

    def train_mode(self) -> None:
        """Training mode, except the frozen prefix's BatchNorm: it keeps normalising with the statistics it was
        copied with and updates none (model.keep_batch_norm_statistics)."""
        self.frozen.train(), self.trainable.train()
        keep_batch_norm_statistics(self.frozen)

    def synchronize(self) -> None:
        """Wait for the device's queued work, so that wall-clock times include it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss, top-1 and top-5 on the validation images (centre crop, dropout off)."""
        self.frozen.eval(), self.trainable.eval()
        k = min(5, self.val_data.n_classes)
        n, batch = len(self.val_data), self.cfg["eval_batch_size"]
        order = torch.arange(n, device=self.device)
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, top-1, top-5; read once at the end
        for index, images in self.val_data.batches(order, batch, 0, -(-n // batch), self.device):
            images = centre_crop(images, self.size)
            labels = self.val_data.labels[index]
            # A graph replays full batches only; the last, shorter one runs eagerly.
            logits = (self.eval_logits(images) if len(index) == batch else self._eval_logits(images))[0]
            best = logits.topk(k, dim=1).indices
            scores = (F.cross_entropy(logits, labels, reduction="sum"), (best[:, 0] == labels).sum(),
                      (best == labels[:, None]).any(1).sum())
            sums += torch.stack([score.double() for score in scores])
        self.train_mode()
        loss, top1, top5 = sums.tolist()
        return {"val_loss": loss / n, "val_top1": top1 / n, "val_top5": top5 / n}

    def _eval_logits(self, images: torch.Tensor) -> tuple[torch.Tensor]:
        with torch.autocast(**self.autocast):
            inputs = normalise(images, self.mean, self.inv_std, self.input_dtype)
            return (self.trainable_forward(self.frozen_forward(inputs)).float(),)

    # ---- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run bit-identically (what a checkpoint holds)."""
        return {"identity": self.identity, "epoch": self.epoch, "step": self.step, "perm": self.perm,
                "frozen": self.frozen.state_dict(), "trainable": self.trainable.state_dict(),
                "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                "rng": checkpoint.rng_states(self.generator), "rows": self.rows, "sums": plain_sums(self.sums),
                "made_by": self.made_by}

    def load_state_dict(self, state: dict) -> None:
        self.frozen.load_state_dict(state["frozen"])
        self.trainable.load_state_dict(state["trainable"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        checkpoint.restore_rng_states(state["rng"], self.generator)
        self.epoch, self.step, self.rows, self.sums = state["epoch"], state["step"], state["rows"], state["sums"]
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)

    def save_checkpoint(self) -> None:
        checkpoint.save(self.job.checkpoint_dir, self.state_dict())

    def resume(self) -> None:
        """Continue from the newest checkpoint made from exactly these inputs, if there is one."""
        state = checkpoint.load(self.job.checkpoint_dir, self.identity, self.log)
        if state is not None:
            self.load_state_dict(state)
            self.log(f"resuming from checkpoint: epoch {self.epoch}, step {self.step}")
            self.continue_record(state.get("made_by", []))

    def conditions(self) -> dict:
        """What decides this process's bits besides the net's identity (its inputs): on the CPU 1 and 2 threads
        round differently and train different nets, as other CPU or GPU models, torch versions or compiled
        kernels may, and the precision that train.precision: auto picks for this device. None of it is a
        setting, so a checkpoint made under others is resumed all the same."""
        return {"device": device_model(self.device), "threads": self.job.threads, "precision": self.precision,
                "torch": str(torch.__version__),  # a plain str: checkpoints' weights_only load refuses TorchVersion
                "compile": self.job.options.compile, "cuda_graphs": self.job.options.cuda_graphs and self.device.type == "cuda"}

    def continue_record(self, made_by: list[dict]) -> None:
        """Continue the checkpoint's record of the conditions its steps were made under: a resume under the
        same ones ends bit-identical to a run never stopped; under others, the log says the net is neither's."""
        here = self.conditions()
        if made_by and {k: made_by[-1].get(k) for k in here} == here:
            self.made_by = made_by
            return
        self.made_by = made_by + [{"from_epoch": self.epoch, "from_step": self.step, **here}]
        if not made_by:  # a checkpoint of an older version: its part's conditions are unknown
            return
        changed = ", ".join(f"{k} {made_by[-1].get(k)} -> {v}" for k, v in here.items() if made_by[-1].get(k) != v)
        self.log(f"resuming under other conditions ({changed}): the net will be neither run's bit for bit "
                 "(metrics.json's provenance.made_by records each part)")


def refuse_with_graphs(job: Job) -> None:
    """What cuda_graphs is not tested with: torch.compile inside a capture (train.compile, model.lrn_fused)."""
    if job.options.compile or job.settings["model"].get("lrn_fused"):
        raise ValueError("train.cuda_graphs cannot be used with train.compile or model.lrn_fused (compiled "
                         "kernels inside a captured step are not tested here); choose one")


def param_groups(trainable: torch.nn.Sequential, settings: dict) -> list[dict]:
    """The optimiser's parameter groups: one at the schedule's rate, and for a treatment with a copied-layer
    rate (nets.TREATMENTS) its copied layers in their own group (the schedule scales each group's rate)."""
    return nets.param_groups(trainable, parse_net(settings["net"]), settings["train"])


def _empty_sums() -> dict:
    return {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


def plain_sums(sums: dict) -> dict:
    """The epoch's running sums as numbers (reading them waits for the device)."""
    return {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in sums.items()}


# ---- progress ---------------------------------------------------------------------------------------
class Progress:
    """The training log: what is trained, a line per epoch with the time left (h:mm:ss), and within an epoch
    longer than `every_s` seconds a line every `every_s` seconds."""

    def __init__(self, run: Run, every_s: float):
        self.run, self.every_s = run, every_s
        self.epoch_start = self.last_line = self.first_step = None

    def start(self) -> None:
        run = self.run
        self.run.log(f"{run.job.settings['net']}: {len(run.train_data)} training / {len(run.val_data)} validation "
                     f"images, {run.train_data.n_classes} classes, {run.size} px, device {run.device}, "
                     f"{run.job.threads} thread(s), {precision_words(run)}, settings {run.hash}")
        self.run.log(f"{'epoch':>7} {'lr':>8} {'loss':>7} {'train':>6} {'val':>6} {'top5':>6} {'img/s':>8} "
                     f"{'ETA':>8}")

    def start_epoch(self) -> None:
        self.epoch_start = self.last_line = time.perf_counter()
        self.first_step = self.run.step

    def step_done(self, steps: int) -> None:
        now = time.perf_counter()
        if now - self.last_line < self.every_s or self.run.step == steps:
            return
        self.last_line, run = now, self.run
        per_step = (now - self.epoch_start) / (run.step - self.first_step)
        evals_left = run.n_epochs - run.epoch
        eval_s = sum(r["eval_s"] for r in run.rows) / len(run.rows) if run.rows else 0.0
        left = (run.total_steps - run.epoch * run.steps - run.step) * per_step + evals_left * eval_s
        sums = plain_sums(run.sums)
        run.log(f"{run.epoch + 1:>3}/{run.n_epochs:<3} step {run.step}/{steps} ({run.step / steps:.0%}), "
                f"loss {sums['loss'] / max(sums['seen'], 1):.4f}, {run.batch / per_step:.0f} img/s, "
                f"epoch left {hms((steps - run.step) * per_step)}, ETA {hms(left)}")

    def epoch_done(self, row: dict) -> None:
        rows = self.run.rows
        per_epoch = sum(r["train_s"] + r["eval_s"] for r in rows) / len(rows)
        eta = (self.run.n_epochs - row["epoch"]) * per_epoch
        self.run.log(f"{row['epoch']:>3}/{self.run.n_epochs:<3} {row['lr']:8.5f} {row['train_loss']:7.4f} "
                     f"{row['train_top1']:6.3f} {row['val_top1']:6.3f} {row['val_top5']:6.3f} "
                     f"{row['images_per_s']:8.0f} {hms(eta):>8}")


def precision_words(run: Run) -> str:
    """The precision the net trains in, and why where train.precision left the choice to the device."""
    if run.cfg["precision"] != "auto":
        return run.precision
    native = "has" if run.precision == "bf16" else "lacks"
    return f"{run.precision} (train.precision auto: this device {native} bf16 units)"


# ---- outputs ----------------------------------------------------------------------------------------
def epoch_row(epoch: int, lr: float, sums: dict, scores: dict, images: int, eval_s: float,
              copied_lr_factor: float | None = None) -> dict:
    """One line of epochs.csv (EPOCH_COLUMNS): `lr` is the rate of the epoch's last step; copied_lr that of the
    copied layers where a treatment gives them their own (nets.param_groups), else empty."""
    seen, seconds = max(sums["seen"], 1), sums["seconds"]
    copied_lr = lr * copied_lr_factor if copied_lr_factor else None
    return {"epoch": epoch, "lr": lr, "copied_lr": copied_lr, "train_loss": sums["loss"] / seen,
            "train_top1": sums["correct"] / seen,
            **scores, "train_s": seconds, "eval_s": eval_s, "images_per_s": images / max(seconds, 1e-9)}


def write_outputs(run: Run) -> dict:
    """weights.safetensors, epochs.csv, usage.tsv and, last, metrics.json; returns the metrics."""
    out = Path(run.job.out_dir)
    # Slices of a named Sequential keep the full net's keys (conv1.0.weight, ...).
    weights = {k: v.detach().contiguous().cpu()
               for part in (run.frozen, run.trainable) for k, v in part.state_dict().items()}
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(weights, str(tmp))
    with atomic_path(out / EPOCHS_FILE) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, EPOCH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(run.rows)
    write_usage(out / "usage.tsv")
    metrics = final_metrics(run)
    # Last: its presence means the net is finished. The final checkpoint stays: if Snakemake dies
    # before it records this job as done, the rerun rewrites these files from it, without training.
    write_json(out / METRICS_FILE, metrics)
    return metrics


def final_metrics(run: Run) -> dict:
    """What metrics.json records: the net, its scores after the last epoch, its speed and provenance."""
    spec, rows, last = parse_net(run.job.settings["net"]), run.rows, run.rows[-1]
    train_s = sum(r["train_s"] for r in rows)
    images = sum(r["train_s"] * r["images_per_s"] for r in rows)
    return {"net": spec.name, "split": run.job.settings["split"], "seed": run.job.settings["seed"],
            "dataset": run.job.settings["dataset"], "treatment": spec.treatment, "source": spec.source,
            "target": spec.target, "n": spec.n, "fine_tuned": spec.fine_tuned,
            "images_per_class": spec.images_per_class, "top1": last["val_top1"], "top5": last["val_top5"],
            "loss": last["val_loss"], "top1_best": max(r["val_top1"] for r in rows),
            "epochs": len(rows), "wall_s": train_s + sum(r["eval_s"] for r in rows), "images_per_s": images / train_s,
            "n_train": len(run.train_data), "n_val": len(run.val_data), "n_classes": run.train_data.n_classes,
            "settings_hash": run.hash, "device": str(run.device), "threads": run.job.threads,
            "compile_s": run.compile_s,
            "provenance": {**provenance(run.identity, run.device, run.precision, run.job.options.cuda_graphs),
                           "made_by": run.made_by,
                           # the pretrained file's own sha256 (source_sha256 is that of the units a net copies)
                           **{"pretrained_sha256": run.job.settings[key] for key in ("source_sha256",)
                              if key in run.job.settings}}}
