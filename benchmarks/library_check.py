#!/usr/bin/env python
"""Hand-written code against the library that does the same, measured in one run on this machine:

    .venv/bin/python benchmarks/library_check.py [--steps 300] [--repeats 5]

1. the optimiser: torch.optim.SGD (foreach) + LambdaLR, what optim.py uses, against the hand-written momentum
   SGD it replaced (kept below as the reference): the same bits, the time of one step of each on the default
   config's net, and one forward + backward of a batch of that net for scale;
2. the start-up torch.optim adds to a new Python (torch._dynamo, imported on first use): what a job outside
   the warm server pays once (the warm server pays it once for all its jobs);
3. CIFAR unpickling: datasets.load_cifar_pickle (an unpickler that can only rebuild arrays) against
   pickle.load, what torchvision.datasets.CIFAR10 runs on each file (after an md5 of it, also timed), on five
   CIFAR-10-sized batches.
Prints one line per figure and ends with `sgd_step_ratio=<torch/ours> cifar_read_ratio=<ours/pickle>`.
"""

import argparse
import hashlib
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from transferability.datasets import load_cifar_pickle  # noqa: E402
from transferability.architectures import architecture  # noqa: E402
from transferability.model import build_model  # noqa: E402
from transferability.optim import sgd, step_schedule  # noqa: E402


class HandWrittenSGD:
    """optim.py's former MomentumSGD (until this benchmark): torch.optim.SGD's foreach update, by hand."""

    def __init__(self, params, lr, momentum, weight_decay):
        self.params, self.lr, self.momentum, self.weight_decay = list(params), lr, momentum, weight_decay
        self.buffers = [None] * len(self.params)

    @torch.no_grad()
    def step(self):
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in live]
        grads = torch._foreach_add([p.grad for p in params], params, alpha=self.weight_decay)
        if any(self.buffers[i] is None for i in live):
            for i, grad in zip(live, grads):
                self.buffers[i] = grad.clone()
        else:
            buffers = [self.buffers[i] for i in live]
            torch._foreach_mul_(buffers, self.momentum)
            torch._foreach_add_(buffers, grads)
        torch._foreach_add_(params, [self.buffers[i] for i in live], alpha=-self.lr)

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def nets_and_batch():
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    model, train = architecture(cfg["model"]), cfg["train"]
    torch.manual_seed(0)
    ours, theirs = build_model(model, 1, 5), build_model(model, 1, 5)
    theirs.load_state_dict(ours.state_dict())
    batch = train.get("batch_size", 128)
    x = torch.randn(batch, 1, model["input_size"], model["input_size"])
    return ours, theirs, x, torch.randint(0, 5, (batch,)), train


def optimiser_rows(steps: int) -> float:
    hand_net, torch_net, x, y, train = nets_and_batch()
    hand = HandWrittenSGD(hand_net.parameters(), train["lr"], train.get("momentum", 0.9), train.get("weight_decay", 5e-4))
    lib = sgd(torch_net.parameters(), {"lr": train["lr"], "momentum": train.get("momentum", 0.9),
                                       "weight_decay": train.get("weight_decay", 5e-4)})
    schedule = step_schedule(lib, 1.0, 0)
    times = {"hand": [], "torch": [], "forward+backward": []}
    for _ in range(steps):
        for name, net, update in (("hand", hand_net, hand.step), ("torch", torch_net, lambda: (lib.step(), schedule.step()))):
            net.zero_grad(set_to_none=True)
            start = time.perf_counter()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            middle = time.perf_counter()
            update()
            times[name].append(time.perf_counter() - middle)
            times["forward+backward"].append(middle - start)
    same = all(torch.equal(a, b) for a, b in zip(hand_net.parameters(), torch_net.parameters()))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"optimiser step, hand-written: {med['hand'] * 1e6:.0f} us; torch.optim.SGD + LambdaLR: "
          f"{med['torch'] * 1e6:.0f} us; forward + backward of a batch of {len(x)}: {med['forward+backward'] * 1e3:.1f} ms "
          f"(medians of {steps}); weights bit-identical after {steps} steps: {same}")
    return med["torch"] / med["hand"]


def startup_rows(repeats: int) -> None:
    def timed(code):
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)
    bare = timed("import torch")
    with_sgd = timed("import torch; torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()")
    print(f"new Python: import torch {bare:.2f} s; + a torch.optim.SGD and a step {with_sgd:.2f} s "
          f"(+{with_sgd - bare:.2f} s, medians of {repeats})")


def cifar_rows(repeats: int) -> float:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(5):  # data_batch_1..5 of cifar-10-batches-py: 10,000 rows of 3072 bytes, pickled
            path = Path(folder) / f"data_batch_{i + 1}"
            batch = {"data": rng.integers(0, 256, (10000, 3072), dtype=np.uint8),
                     "labels": rng.integers(0, 10, 10000).tolist(), "batch_label": f"training batch {i + 1} of 5"}
            path.write_bytes(pickle.dumps(batch, protocol=2))
            paths.append(path)

        def best(read):
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                for path in paths:
                    read(path)
                runs.append(time.perf_counter() - start)
            return min(runs)

        def plain(path):
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")
        ours, theirs = best(load_cifar_pickle), best(plain)
        md5 = best(lambda path: hashlib.md5(path.read_bytes()).hexdigest())
    print(f"CIFAR-10 training batches (5 x 10,000 images): restricted unpickler {ours:.3f} s, pickle.load "
          f"{theirs:.3f} s (torchvision's read), md5 of the files {md5:.3f} s (torchvision's check); best of {repeats}")
    return ours / theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    sgd_ratio = optimiser_rows(args.steps)
    startup_rows(args.repeats)
    cifar_ratio = cifar_rows(args.repeats)
    print(f"sgd_step_ratio={sgd_ratio:.2f} cifar_read_ratio={cifar_ratio:.2f}")


if __name__ == "__main__":
    main()
