"""What every section of the speed benchmark shares: the configs as the workflow sees them, a data cache and
split per config with jobs on them, the table of measurements, and the steady-state rate of our step."""

import copy
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))  # the package, also where it was not pip-installed

import torch  # noqa: E402
import yaml  # noqa: E402

from transferability.config import merge  # noqa: E402
from transferability import plan  # noqa: E402
from transferability import train as T  # noqa: E402
from transferability.config import check_config, load_schema  # noqa: E402
from transferability.data import build_cache  # noqa: E402
from transferability.devices import pick_device  # noqa: E402
from transferability.run_options import RunOptions  # noqa: E402
from transferability.splits import explicit_halves, random_halves, read_class_list, write_split  # noqa: E402

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
SMOKE = ROOT / "tests/smoke.yaml"
ROWS = []  # every measurement: section, item, config, value, unit, detail


def note(message: str) -> None:
    print(f"[speed] {message}", file=sys.stderr, flush=True)


def record(section, item, config, value, unit, detail=""):
    ROWS.append({"section": section, "item": item, "config": config, "value": value, "unit": unit, "detail": detail})
    return value


def load_config(path: Path) -> dict:
    """The config with the schema's defaults filled in, as the workflow sees it."""
    cfg = yaml.safe_load(Path(path).read_text()) or {}
    schema = load_schema(SCHEMA)
    check_config(cfg, schema)
    fill_defaults(cfg, schema)
    return cfg


def fill_defaults(cfg: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in cfg and "default" in sub:
            cfg[key] = copy.deepcopy(sub["default"])
        if isinstance(cfg.get(key), dict):
            fill_defaults(cfg[key], sub)


class Setup:
    """One config's data cache and first split, in a scratch folder, and Jobs on them."""

    def __init__(self, name: str, cfg: dict, scratch: Path):
        self.name, self.cfg, self.dir = name, cfg, scratch / name
        start = time.perf_counter()
        self.meta = build_cache(cfg["dataset"], self.dir / "data")
        record("data", "cache build", name, time.perf_counter() - start, "s",
               f"{self.meta['n_train']} + {self.meta['n_val']} images, {self.meta['channels']} x "
               f"{self.meta['image_size']} px")
        self.split_name, (half_a, half_b) = self._first_split()
        self.split_file = self.dir / "split.tsv"
        write_split(self.split_file, self.meta["classes"], half_a, half_b)
        self.device, _ = pick_device(cfg["train"]["device"], log=note)
        self.threads = cfg["train"]["threads"]

    def _first_split(self):
        classes = self.meta["classes"]
        if self.cfg["splits"]["random"]:
            seed = self.cfg["splits"]["random"][0]
            return f"random{seed}", random_halves(len(classes), seed)
        name, halves = next(iter(self.cfg["splits"]["explicit"].items()))

        def resolve(entry):
            if isinstance(entry, str):
                pkg = ROOT / "workflow/transferability" / entry
                return read_class_list(pkg if entry.startswith("paper/") else entry)
            return entry
        return name, explicit_halves(classes, resolve(halves["A"]), resolve(halves["B"]))

    def settings(self, net: str, **train) -> dict:
        """As the train_net rule builds them (plan.train_settings), with these training keys changed."""
        config = merge(self.cfg, {"train": train})
        return plan.train_settings(config, self.split_name, self.cfg["seeds"][0], net)

    def job(self, net: str, source=None, tag="", **train) -> T.Job:
        out = self.dir / "nets" / f"{net}{tag}"
        shutil.rmtree(out, ignore_errors=True)
        return T.Job(settings=self.settings(net, **train), data_dir=self.dir / "data", split_file=self.split_file,
                     out_dir=out, checkpoint_dir=out / "checkpoints", source_weights=source,
                     threads=self.threads, options=RunOptions(device=self.device.type))


def build_run(job: T.Job) -> T.Run:
    """The Run exactly as train() builds it (train.prepare_run), before its loop."""
    return T.prepare_run(job, log=lambda line: None)


def sync(device):
    """Wait for a GPU's queued work, so that wall-clock times include it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steady_rate(run, seconds: float, warmup: int = 5) -> float:
    """Images/s of fit()'s inner loop (`Run.train_step` on slices of a random permutation), after warm-up."""
    batch, steps = run.batch, run.steps
    seen, step, start, done = 0, 0, None, 0
    perm = torch.randperm(len(run.train_data), generator=run.generator, device=run.device)
    while True:
        if step == steps:
            perm, step = torch.randperm(len(run.train_data), generator=run.generator, device=run.device), 0
        index = perm[step * batch:(step + 1) * batch]
        run.train_step(index, run.train_data.images[index])
        step += 1
        done += 1
        if done == warmup:
            sync(run.device)
            start = time.perf_counter()
        elif start is not None:
            seen += batch
            if time.perf_counter() - start >= seconds:
                sync(run.device)
                return seen / (time.perf_counter() - start)


