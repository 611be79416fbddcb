"""Fixed-shape steps replayed as CUDA graphs (`train.cuda_graphs`).

A small net's training step is bound by the CPU launching its kernels: on an H200 the default net's step
took 5.6 ms of CPU against 0.6 ms of GPU kernels (profiler, 50 steps). A CUDA graph records a step's
kernels once and launches them all with one call, so the GPU, not Python, sets the pace.

StepGraph wraps a function of fixed-shape tensors that returns tensors (a step's forward and backward, or an
evaluation batch's forward). On a GPU its first `warmup` calls run the function as usual, on a side stream
(PyTorch's rule before a capture: cuDNN, cuBLAS and autograd set themselves up lazily on first use); the
next call captures it (recording its kernels, not running them) and that call and every later one copy
their inputs into the graph's own input tensors and replay it. What it returns are the graph's output
tensors, overwritten by the next call: read them before calling again.

The function must do the same thing on every call: no Python decisions on tensor values, no `.item()`,
no new parameters. Parameters' gradients made inside the graph stay at their addresses, so an optimiser
step outside the graph reads them; nothing else may set them to None (zero_grad belongs inside).

Without a GPU (`capture=False`) the calls run eagerly through the same input and output tensors, so the
CPU tests exercise everything but the capture and the replay.
"""

import gc
import warnings

import torch


class StepGraph:
    def __init__(self, fn, capture: bool, warmup: int = 3):
        self.fn, self.capture, self.warmup = fn, capture, warmup
        self.calls, self.graph, self.side = 0, None, None
        self.inputs: list[torch.Tensor] | None = None
        self.outputs: tuple[torch.Tensor, ...] | None = None

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.calls += 1
        if self.inputs is None:  # the first call fixes the shapes, dtypes and memory layouts
            self.inputs = [x.clone() for x in inputs]  # clone keeps the strides (channels_last stays so)
        else:
            self._check_shapes(inputs)
            for static, x in zip(self.inputs, inputs):
                static.copy_(x)
        if not self.capture:
            return self._keep(self.fn(*self.inputs))
        if self.graph is None and self.calls <= self.warmup:
            return self._keep(self._beside(self.inputs))
        if self.graph is None:
            self.graph = self._capture()
        self.graph.replay()
        return self.outputs

    def _capture(self) -> "torch.cuda.CUDAGraph":
        """The function's kernels recorded (not run) into a graph, or an error: never an empty graph, whose
        replays would do nothing while the step's outputs and gradients kept their last values."""
        device = self.inputs[0].device
        if device.index != torch.cuda.current_device():  # the capture stream is the current device's
            raise RuntimeError(f"StepGraph: inputs on {device} while cuda:{torch.cuda.current_device()} is the "
                               "current device (torch.cuda.set_device first)")
        gc.collect()  # now, not during the capture: an old run's graph freed mid-capture would break it
        graph = torch.cuda.CUDAGraph()
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*CUDA Graph is empty")
            # thread_local: the reader thread of a memory-mapped half may pin memory during the capture
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.outputs = tuple(self.fn(*self.inputs))
        return graph

    def _beside(self, inputs):
        """The function run eagerly on a side stream, ordered after and before the current stream's work."""
        self.side = self.side or torch.cuda.Stream()
        current = torch.cuda.current_stream()
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            outputs = self.fn(*inputs)
        current.wait_stream(self.side)
        return outputs

    def _keep(self, outputs) -> tuple[torch.Tensor, ...]:
        """Eager results copied into the output tensors a replay would overwrite (the same aliasing)."""
        if self.outputs is None:
            self.outputs = tuple(x.clone() for x in outputs)
        else:
            for static, x in zip(self.outputs, outputs):
                static.copy_(x)
        return self.outputs

    def _check_shapes(self, inputs) -> None:
        for static, x in zip(self.inputs, inputs):
            if static.shape != x.shape or static.dtype != x.dtype:
                raise ValueError(f"StepGraph: an input of shape {tuple(x.shape)} {x.dtype} where the graph has "
                                 f"{tuple(static.shape)} {static.dtype} (a graph replays fixed shapes only)")
