"""SGD with momentum and weight decay, computing exactly what torch.optim.SGD computes (dampening 0,
no Nesterov). Its own few lines because constructing torch's optimiser imports torch._dynamo, about a
second of start-up in every one of the workflow's many short training jobs."""

import torch


class MomentumSGD:
    def __init__(self, params, lr: float, momentum: float, weight_decay: float):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    @torch.no_grad()
    def step(self) -> None:
        # Multi-tensor (_foreach) ops: a handful of kernel launches per step instead of three per
        # parameter, which is most of a small net's optimiser time on a GPU.
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if any(self.buffers[i] is None for i in live):  # the first step: each buffer starts as its gradient
            for i, grad in zip(live, grads):
                self.buffers[i] = grad.clone()
        else:
            buffers = [self.buffers[i] for i in live]
            torch._foreach_mul_(buffers, self.momentum)
            torch._foreach_add_(buffers, grads)
        torch._foreach_add_(params, [self.buffers[i] for i in live], alpha=-self.lr)

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def state_dict(self) -> dict:
        return {"lr": self.lr, "buffers": self.buffers}

    def load_state_dict(self, state: dict) -> None:
        self.lr = state["lr"]
        self.buffers = [None if b is None else b.to(p.device) for b, p in zip(state["buffers"], self.params)]
