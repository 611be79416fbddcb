"""The paper's optimiser and schedule: SGD with momentum and weight decay (torch.optim.SGD), its rate times
lr_decay for every lr_every SGD steps done (a LambdaLR stepped once per SGD step).

torch's, not a hand-written SGD (this package had one until benchmarks/library_check.py measured both in one
run: the same bits after 300 steps; torch's step 1.49x the hand-written one's, 0.25 ms against a 165 ms
forward + backward of the default net, 0.15 %). Its cost is at start-up: the first optimiser imports
torch._dynamo, about as long again as `import torch` (+5.7 s after 6.3 s on the loaded 2-core machine). The
warm server pays it once for all local jobs (commands/warm_server.py); a job in its own Python (Slurm,
train.warm_start: false) pays it once."""

import torch


def sgd(params, cfg: dict) -> torch.optim.SGD:
    """SGD with the config's rate, momentum and weight decay (dampening 0, no Nesterov). `params`: the
    parameters, or parameter groups (dicts of "params" and their own "lr") for per-layer rates."""
    # foreach: multi-tensor kernels, a handful of launches per step instead of a few per parameter, also on
    # the CPU (torch's default there is the per-parameter loop, which rounds the same but is slower).
    return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"],
                           foreach=True)


def step_factor(iteration: int, decay: float, every: int) -> float:
    """The schedule's factor of the base rate at an SGD step (counted from 0): decay per `every` steps done."""
    return decay ** (iteration // every if every else 0)


def step_schedule(optimizer: torch.optim.Optimizer, decay: float, every: int):
    """The step schedule as a scheduler: call its step() after each optimizer.step()."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda iteration: step_factor(iteration, decay, every))
