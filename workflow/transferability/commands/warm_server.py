"""import the training code once; fork a copy per training job"""

from typing import Annotated


def run(socket: Annotated[str, "the Unix socket the jobs connect to"],
        parent_pid: Annotated[int, "serve until this process ends"]) -> None:
    from .. import warm
    from ..cli import main

    warm.serve(socket, parent_pid, entry=main, warm_up=warm_up_training)


def warm_up_training() -> None:
    """What the server does once for all its jobs: import the training code, and build an optimiser and its
    schedule (torch.optim imports torch._dynamo on first use, about a second; see optim.py)."""
    import torch

    from .. import optim, train  # noqa: F401

    optimizer = optim.sgd([torch.zeros(1, requires_grad=True)], {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0})
    optim.step_schedule(optimizer, 0.1, 1)
