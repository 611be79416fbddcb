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
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            grad = param.grad.add(param, alpha=self.weight_decay) if self.weight_decay else param.grad
            if self.buffers[i] is None:
                self.buffers[i] = grad.clone()
            else:
                self.buffers[i].mul_(self.momentum).add_(grad)
            param.add_(self.buffers[i], alpha=-self.lr)

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def state_dict(self) -> dict:
        return {"lr": self.lr, "buffers": self.buffers}

    def load_state_dict(self, state: dict) -> None:
        self.lr = state["lr"]
        self.buffers = [None if b is None else b.to(p.device) for b, p in zip(state["buffers"], self.params)]
