"""Train one net of the experiment: build it, copy (and maybe freeze) its first n layers, train on its half.

A job is restartable: it checkpoints every epoch (and every few minutes if asked) and, when started
again with the same settings, continues exactly where it stopped. Its final files are written last
and atomically. The workflow removes the checkpoints of finished nets after a successful run.
"""

import csv
import hashlib
import importlib.metadata
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from . import checkpoint
from .batches import centre_crop, crop_and_mirror, normalise, select_half
from .data import load_cache
from .devices import pick_device, usable_gpu_bytes
from .io import atomic_path, write_json
from .memory import keep_freed_memory
from .model import LAYER_NAMES, build_model
from .nets import param_groups, parse_net
from .optim import MomentumSGD
from .splits import read_split

HOST_DATA_BYTES = 8e9
GPU_DATA_FRACTION = 0.5  # the rest is for the net's activations
EPOCH_COLUMNS = ["epoch", "lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5",
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
    device: str = "auto"
    checkpoint_minutes: float = 0.0  # 0: checkpoint at the end of each epoch only
    compile: bool = False  # torch.compile the net; the first step's extra time is reported as compile_s
    nets_per_gpu: int = 1  # jobs sharing one GPU (resources.nets_per_gpu); this one gets its share of the memory


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
    if spec.source_net:
        copy_layers(model, load_file(str(source_weights)), spec.n)
    frozen, trainable = model[:spec.frozen_layers], model[spec.frozen_layers:]
    frozen.requires_grad_(False)
    return frozen, trainable


def copy_layers(model: torch.nn.Sequential, source: dict, n: int) -> None:
    """Copy the first n layers from the source's weights; every tensor of them must be there, fit, and
    nothing else may be (a layer left random and frozen would pass for a transferred one)."""
    prefixes = tuple(f"{name}." for name in LAYER_NAMES[:n])
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


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def net_identity(settings: dict, meta: dict, classes: list[int], source_weights) -> dict:
    """Everything that decides a net's bits: a checkpoint is resumed only if its identity is this one."""
    return {"settings": settings_hash(settings), "data_fingerprint": meta["fingerprint"],
            "split_classes": [meta["classes"][i] for i in classes],
            "source_sha256": file_sha256(source_weights) if source_weights else None}


def provenance(identity: dict, device: torch.device, precision: str) -> dict:
    """What metrics.json records of how the net was made (besides its settings)."""
    return {**{k: v for k, v in identity.items() if k != "settings"}, "package": _package_version(),
            "git_commit": _git_commit(), "torch": torch.__version__, "device": str(device), "precision": precision}


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
    return prepare(job, log).fit()


def data_budget(device: torch.device) -> float:
    """Bytes of uint8 images a job keeps in memory (on the GPU for a GPU job, within its share of a shared
    GPU); larger halves are read from the memory-mapped cache batch by batch."""
    if device.type == "cpu":
        return HOST_DATA_BYTES
    return GPU_DATA_FRACTION * usable_gpu_bytes(device)


def prepare(job: Job, log=print) -> "_Run":
    torch.set_num_threads(job.threads)
    keep_freed_memory()
    spec = parse_net(job.settings["net"])
    device, gpu_lock = pick_device(job.device, log=log, nets_per_gpu=job.nets_per_gpu)
    cache = load_cache(job.data_dir)
    classes = read_split(job.split_file)[spec.target]
    budget = data_budget(device)
    train_data = select_half(cache.train_images, cache.train_labels, classes, spec.images_per_class, device, budget)
    val_data = select_half(cache.val_images, cache.val_labels, classes, None, device,
                           budget - train_data.resident_bytes)
    frozen, trainable = build_net(job.settings, cache.meta["channels"], len(classes), job.source_weights)
    identity = net_identity(job.settings, cache.meta, classes, job.source_weights)
    run = _Run(job, frozen.to(device, memory_format=torch.channels_last),
               trainable.to(device, memory_format=torch.channels_last), train_data, val_data, cache.meta, device, log,
               identity)
    run.gpu_lock = gpu_lock  # held (open) for as long as the run exists
    return run


def _empty_sums() -> dict:
    return {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


class _Run:
    """The state of one training run, its loop, checkpoints and final files."""

    def __init__(self, job, frozen, trainable, train_data, val_data, meta, device, log, identity):
        self.job, self.frozen, self.trainable, self.log = job, frozen, trainable, log
        self.train_data, self.val_data, self.device = train_data, val_data, device
        self.cfg, self.augment = job.settings["train"], job.settings["augment"]
        self.size = job.settings["model"]["input_size"]
        self.mean = torch.tensor(meta["mean"], device=device).view(1, -1, 1, 1)
        self.inv_std = 1 / torch.tensor(meta["std"], device=device).view(1, -1, 1, 1)
        self.hash, self.identity = settings_hash(job.settings), identity
        if device.type == "cuda":  # cuDNN's fastest convolutions may add in any order: reruns and resumes
            torch.backends.cudnn.deterministic = True  # must give the same bits, as on the CPU
        self.optimizer = MomentumSGD(param_groups(trainable, parse_net(job.settings["net"]), self.cfg), lr=self.cfg["lr"], momentum=self.cfg["momentum"],
                                     weight_decay=self.cfg["weight_decay"])
        self.generator = torch.Generator(device).manual_seed(derived_seed(job.settings["seed"], "data"))
        # bf16 autocast: about twice the speed on GPUs and on CPUs with bf16 units (AMX, AVX-512 BF16);
        # weights, optimiser state and the loss stay in fp32.
        self.autocast = dict(device_type=device.type, dtype=torch.bfloat16,
                             enabled=self.cfg["precision"] == "bf16")
        self.batch = min(self.cfg["batch_size"], len(train_data))
        self.steps = len(train_data) // self.batch  # per epoch
        self.total_steps = self.cfg.get("iterations") or self.cfg["epochs"] * self.steps
        self.n_epochs = -(-self.total_steps // self.steps)
        self.lr_every = self.cfg.get("lr_step_iterations") or self.cfg["lr_step_epochs"] * self.steps
        self.epoch, self.step, self.perm, self.rows = 0, 0, None, []
        self.compile_s = None  # seconds of the first compiled step, in this process
        # What the steps call; the modules themselves keep the plain net's parameters and state_dict keys.
        self.frozen_forward, self.trainable_forward = frozen, trainable
        if job.compile:
            self.trainable_forward = torch.compile(trainable)
            if len(frozen):
                self.frozen_forward = torch.compile(frozen)
        self.sums = _empty_sums()  # of the epoch so far

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self) -> dict:
        self._resume()
        self.log(f"{self.job.settings['net']}: {len(self.train_data)} training / {len(self.val_data)} validation "
                 f"images, {self.train_data.n_classes} classes, {self.job.settings['model']['input_size']} px, "
                 f"device {self.device}, {self.job.threads} thread(s), settings {self.hash}")
        self._log_header()
        every = 60 * self.job.checkpoint_minutes
        while self.epoch < self.n_epochs:
            steps_now = min(self.steps, self.total_steps - self.epoch * self.steps)  # the last may stop early
            if self.perm is None:
                self.perm = torch.randperm(len(self.train_data), generator=self.generator, device=self.device)
            start = last_save = time.perf_counter()
            for index, images in self.train_data.batches(self.perm, self.batch, self.step, steps_now, self.device):
                self._set_lr(self.epoch * self.steps + self.step)
                self._step(index, images)
                self.step += 1
                if every and time.perf_counter() - last_save > every and self.step < steps_now:
                    self.sums["seconds"] += time.perf_counter() - start
                    self._save_checkpoint()
                    start = last_save = time.perf_counter()
            self._synchronize()
            self.sums["seconds"] += time.perf_counter() - start
            self._end_epoch(steps_now * self.batch)
            self._save_checkpoint()
        return self._write_outputs()

    def _step(self, index: torch.Tensor, images: torch.Tensor) -> None:
        if not self.job.compile or self.compile_s is not None:
            return self._train_step(index, images)
        start = time.perf_counter()  # the first compiled step also compiles the forward and backward graphs
        self._train_step(index, images)
        self._synchronize()
        self.compile_s = time.perf_counter() - start
        self.log(f"torch.compile: the first step took {self.compile_s:.1f} s")

    def _train_step(self, index: torch.Tensor, images: torch.Tensor) -> None:
        images = crop_and_mirror(images, self.size, self.augment["crop_padding"], self.augment["mirror"], self.generator)
        labels = self.train_data.labels[index]
        with torch.autocast(**self.autocast):
            with torch.no_grad():  # no graph, no backward pass through the frozen prefix
                features = self.frozen_forward(normalise(images, self.mean, self.inv_std))
            logits = self.trainable_forward(features)
            loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        # The running sums stay on the device: reading them every step would stall a GPU's queue.
        self.sums["loss"] += loss.detach().double() * len(index)
        self.sums["correct"] += (logits.argmax(1) == labels).sum()
        self.sums["seen"] += len(index)

    def _synchronize(self) -> None:
        """Wait for the device's queued work, so that wall-clock times include it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _set_lr(self, iteration: int) -> None:
        """Step schedule: the base rate times lr_decay for every lr_every iterations done."""
        self.optimizer.lr = self.cfg["lr"] * self.cfg["lr_decay"] ** (iteration // self.lr_every if self.lr_every else 0)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss, top-1 and top-5 on the validation images (centre crop, dropout off)."""
        self.frozen.eval(), self.trainable.eval()
        loss, top1, top5 = 0.0, 0, 0
        k = min(5, self.val_data.n_classes)
        n, batch = len(self.val_data), self.cfg["eval_batch_size"]
        order = torch.arange(n, device=self.device)
        for index, images in self.val_data.batches(order, batch, 0, -(-n // batch), self.device):
            images = centre_crop(images, self.size)
            labels = self.val_data.labels[index]
            with torch.autocast(**self.autocast):
                logits = self.trainable_forward(self.frozen_forward(normalise(images, self.mean, self.inv_std))).float()
            loss += F.cross_entropy(logits, labels, reduction="sum").item()
            best = logits.topk(k, dim=1).indices
            top1 += (best[:, 0] == labels).sum().item()
            top5 += (best == labels[:, None]).any(1).sum().item()
        self.frozen.train(), self.trainable.train()
        return {"val_loss": loss / n, "val_top1": top1 / n, "val_top5": top5 / n}

    def _end_epoch(self, images: int) -> None:
        sums = self._plain_sums()
        seen, seconds = max(sums["seen"], 1), sums["seconds"]
        start = time.perf_counter()
        scores = self.evaluate()
        row = {"epoch": self.epoch + 1, "lr": self.optimizer.lr,
               "train_loss": sums["loss"] / seen, "train_top1": sums["correct"] / seen, **scores,
               "train_s": seconds, "eval_s": time.perf_counter() - start, "images_per_s": images / max(seconds, 1e-9)}
        self.rows.append(row)
        self.epoch, self.step, self.perm = self.epoch + 1, 0, None
        self.sums = _empty_sums()
        self._log_row(row)

    # ---- progress -------------------------------------------------------------------------------
    def _log_header(self) -> None:
        self.log(f"{'epoch':>7} {'lr':>8} {'loss':>7} {'train':>6} {'val':>6} {'top5':>6} {'img/s':>8} {'ETA':>8}")

    def _log_row(self, row: dict) -> None:
        per_epoch = sum(r["train_s"] + r["eval_s"] for r in self.rows) / len(self.rows)
        eta = (self.n_epochs - row["epoch"]) * per_epoch
        self.log(f"{row['epoch']:>3}/{self.n_epochs:<3} {row['lr']:8.5f} {row['train_loss']:7.4f} "
                 f"{row['train_top1']:6.3f} {row['val_top1']:6.3f} {row['val_top5']:6.3f} "
                 f"{row['images_per_s']:8.0f} {eta:7.0f}s")

    # ---- checkpoints and outputs ----------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        checkpoint.save(self.job.checkpoint_dir, {
            "identity": self.identity, "epoch": self.epoch, "step": self.step, "perm": self.perm,
            "frozen": self.frozen.state_dict(), "trainable": self.trainable.state_dict(),
            "optimizer": self.optimizer.state_dict(), "rng": checkpoint.rng_states(self.generator),
            "rows": self.rows, "sums": self._plain_sums()})

    def _plain_sums(self) -> dict:
        return {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in self.sums.items()}

    def _resume(self) -> None:
        state = checkpoint.load(self.job.checkpoint_dir, self.identity, self.log)
        if state is None:
            return
        self.frozen.load_state_dict(state["frozen"])
        self.trainable.load_state_dict(state["trainable"])
        self.optimizer.load_state_dict(state["optimizer"])
        checkpoint.restore_rng_states(state["rng"], self.generator)
        self.epoch, self.step, self.rows, self.sums = state["epoch"], state["step"], state["rows"], state["sums"]
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.log(f"resuming from checkpoint: epoch {self.epoch}, step {self.step}")

    def _write_outputs(self) -> dict:
        out = Path(self.job.out_dir)
        # Slices of a named Sequential keep the full net's keys (conv1.0.weight, ...).
        weights = {k: v.detach().contiguous().cpu()
                   for part in (self.frozen, self.trainable) for k, v in part.state_dict().items()}
        with atomic_path(out / "weights.safetensors") as tmp:
            save_file(weights, str(tmp))
        with atomic_path(out / "epochs.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, EPOCH_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.rows)
        metrics = self._metrics()
        # Last: its presence means the net is finished. The final checkpoint stays: if Snakemake dies
        # before it records this job as done, the rerun rewrites these files from it, without training.
        write_json(out / "metrics.json", metrics)
        return metrics

    def _metrics(self) -> dict:
        spec, last = parse_net(self.job.settings["net"]), self.rows[-1]
        train_s = sum(r["train_s"] for r in self.rows)
        images = sum(r["train_s"] * r["images_per_s"] for r in self.rows)
        return {"net": spec.name, "split": self.job.settings["split"], "seed": self.job.settings["seed"],
                "dataset": self.job.settings["dataset"], "treatment": spec.treatment, "source": spec.source,
                "target": spec.target, "n": spec.n, "fine_tuned": spec.fine_tuned,
                "images_per_class": spec.images_per_class, "top1": last["val_top1"], "top5": last["val_top5"],
                "loss": last["val_loss"], "top1_best": max(r["val_top1"] for r in self.rows),
                "epochs": len(self.rows), "wall_s": train_s + sum(r["eval_s"] for r in self.rows),
                "images_per_s": images / train_s,
                "n_train": len(self.train_data), "n_val": len(self.val_data), "n_classes": self.train_data.n_classes,
                "settings_hash": self.hash, "device": str(self.device), "threads": self.job.threads,
                "compile_s": self.compile_s,
                "provenance": provenance(self.identity, self.device, self.cfg["precision"])}

