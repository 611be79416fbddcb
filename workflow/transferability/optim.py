"""SGD with momentum and weight decay, computing exactly what torch.optim.SGD computes (dampening 0,
no Nesterov). Its own few lines because constructing torch's optimiser imports torch._dynamo, about a
second of start-up in every one of the workflow's many short training jobs."""

import torch


class MomentumSGD:
    def __init__(self, params, lr: float, momentum: float, weight_decay: float):
        # params, or torch.optim-style groups ({"params", "lr"}): each group's rate stays a fixed factor of lr
        groups = [g if isinstance(g, dict) else {"params": [g]} for g in params]
        self.params = [p for g in groups for p in g["params"]]
        self.factors = [g.get("lr", lr) / lr for g in groups for _ in g["params"]]
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
        for factor in sorted({self.factors[i] for i in live}):
            group = [i for i in live if self.factors[i] == factor]
            torch._foreach_add_([self.params[i] for i in group], [self.buffers[i] for i in group],
                                alpha=-self.lr * factor)

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def state_dict(self) -> dict:
        return {"lr": self.lr, "buffers": self.buffers}

    def load_state_dict(self, state: dict) -> None:
        self.lr = state["lr"]
        self.buffers = [None if b is None else b.to(p.device) for b, p in zip(state["buffers"], self.params)]
