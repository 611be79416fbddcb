"""import the training code once; fork a copy per training job"""

import runpy
import sys
from typing import Annotated


def run(socket: Annotated[str, "the Unix socket the jobs connect to"],
        parent_pid: Annotated[int, "serve until this process ends"]) -> None:
    from .. import warm

    warm.serve(socket, parent_pid, entry=command_line, warm_up=warm_up_training)


def command_line(argv: list[str]) -> None:
    """A forked job runs its command line as `python -m transferability` does, through the package's
    __main__ (which exits with the command's status). Not by importing cli.py: cli.py lists the commands,
    this one among them, so the import would close a circle."""
    sys.argv = ["python -m transferability", *argv]
    runpy.run_module("transferability", run_name="__main__", alter_sys=True)


def warm_up_training() -> None:
    """What the server does once for all its jobs: import the training code, and build an optimiser and its
    schedule (torch.optim imports torch._dynamo on first use, about a second; see optim.py)."""
    import torch

    from .. import optim, train  # noqa: F401

    optimizer = optim.sgd([torch.zeros(1, requires_grad=True)], {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0})
    optim.step_schedule(optimizer, 0.1, 1)
