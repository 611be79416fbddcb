"""Where a training step's time and memory traffic go (issue 16 part 3): CaffeNet's step, or any Run's.

    .venv/bin/python benchmarks/anatomy.py [--batch 8] [--steps 3]      # caffenet, eager and with lrn_fused

Two views of one `Run.train_step` (forward, loss, backward and the SGD step, as the workflow trains):
  - traffic: every aten op the step dispatches, recorded by a TorchDispatchMode (exact, any device, no
    timing): the bytes written by dtype casts, split into weights (a parameter's shape: autocast casting
    fp32 weights to bf16, their bf16 gradients back) and activations; the ops whose 4-D tensors are in
    different memory formats (a layout change, or an element-wise op reading one layout and writing the
    other, which a GPU pays for in uncoalesced reads); and the bytes all ops write, for scale;
  - profile: torch.profiler over a few steps: on a GPU the kernels' time, each op's share from the kernels it
    launched; on the CPU each op's self time; the top ops and the share of copies (copy_, _to_copy, clone).
`make bench-gpu` prints both for each caffenet variant (speed.py's caffenet section).
"""

import argparse
import collections

import torch
from torch.autograd import DeviceType
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from caffenet import caffenet_run
from harness import note, record

COPY_OPS = ("aten::copy_", "aten::_to_copy", "aten::clone")


def memory_format(t) -> str | None:
    """'channels_last' or 'contiguous' for a 4-D tensor that is one and not the other, else None."""
    if not isinstance(t, torch.Tensor) or t.dim() != 4:
        return None
    last, plain = t.is_contiguous(memory_format=torch.channels_last), t.is_contiguous()
    return "channels_last" if last and not plain else "contiguous" if plain and not last else None


def written_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def written_arguments(func, args, kwargs) -> list:
    """The tensors an op writes into among its arguments (its schema marks them `Tensor(a!)`)."""
    values = dict(zip((a.name for a in func._schema.arguments), args)) | (kwargs or {})
    return [t for a in func._schema.arguments if a.alias_info is not None and a.alias_info.is_write
            for t in tree_leaves(values.get(a.name)) if isinstance(t, torch.Tensor)]


class Traffic(TorchDispatchMode):
    """Records each aten op the step dispatches (see the module's docstring)."""

    def __init__(self, weight_shapes: set):
        super().__init__()
        self.weight_shapes, self.bytes, self.ops = weight_shapes, collections.Counter(), collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.__name__.startswith(("empty", "new_empty")):  # an allocation writes nothing
            return out
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        # Views (permute, slices, ...) write nothing: only outputs with storage of their own count, and the
        # arguments an op writes into (in place: ReLU's, the SGD step's; out=), which may return nothing.
        storages = {t.untyped_storage().data_ptr() for t in inputs}
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)
                   and t.untyped_storage().data_ptr() not in storages] + written_arguments(func, args, kwargs)
        if outputs:  # ops that write (views launch no kernel)
            self.count("all ops", outputs)
        if func is torch.ops.aten._to_copy.default and inputs and outputs[0].dtype != inputs[0].dtype:
            kind = "weights" if tuple(outputs[0].shape) in self.weight_shapes else "activations"
            self.count(f"dtype casts, {kind}", outputs)
        formats = {memory_format(t) for t in inputs + outputs} - {None}
        if outputs and len(formats) > 1:
            self.count(f"layout-mixing ops ({func.__name__})", outputs)
        return out

    def count(self, kind: str, outputs) -> None:
        self.bytes[kind] += written_bytes(outputs)
        self.ops[kind] += 1


def step_traffic(run) -> dict:
    """{kind: (ops, MB written)} of one training step of `run` (after one warm-up step)."""
    index = torch.arange(run.batch, device=run.device)
    run.train_step(index, run.train_data.images[index])
    shapes = {tuple(p.shape) for part in (run.frozen, run.trainable) for p in part.parameters()}
    traffic = Traffic(shapes)
    with traffic:
        run.train_step(index, run.train_data.images[index])
    return {kind: (traffic.ops[kind], traffic.bytes[kind] / 1e6) for kind in sorted(traffic.bytes)}


def step_profile(run, steps: int, top: int = 8) -> dict:
    """{'top': [(op, share of the step's time)], 'copies': share of copy ops, 'total_ms': per step}. On a GPU
    the time is the kernels' (all of them: a compiled function's run under no aten op), each op's share that
    of the kernels it launched; on the CPU, each op's own (self) time."""
    index = torch.arange(run.batch, device=run.device)
    run.train_step(index, run.train_data.images[index])
    activities = [torch.profiler.ProfilerActivity.CPU]
    if run.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(steps):
            run.train_step(index, run.train_data.images[index])
        run.synchronize()
    events = prof.key_averages()
    if run.device.type == "cuda":  # as torch's own table: the total from the kernels (CUDA events), each op's
        total = sum(e.self_device_time_total for e in events if e.device_type == DeviceType.CUDA)  # share from
        times = {e.key: e.self_device_time_total for e in events if e.device_type == DeviceType.CPU}  # its kernels
    else:
        times = {e.key: e.self_cpu_time_total for e in events}
        total = sum(times.values())
    total = total or 1.0
    ranked = sorted(times.items(), key=lambda kv: -kv[1])[:top]
    return {"top": [(op, t / total) for op, t in ranked], "copies": sum(times.get(op, 0) for op in COPY_OPS) / total,
            "total_ms": total / 1e3 / steps}


def measure_anatomy(device, batch: int, steps: int, lrn_fused: bool) -> dict:
    """Both views of caffenet's eager step (with `lrn_fused`, its LRN layers fused), recorded as rows. On a
    GPU the fused LRN is compiled, and a dispatch mode would see the compiled function's ops one by one,
    not its kernels: that step gets the profile only."""
    label = "caffenet eager" + (", fused LRN" if lrn_fused else "")
    traffic = {}
    if not (lrn_fused and device.type == "cuda"):
        traffic = step_traffic(caffenet_run(device, batch, compile_net=False, lrn_fused=lrn_fused))
        total_mb = traffic["all ops"][1]
        for kind, (ops, mb) in traffic.items():
            share = f"{mb / total_mb:.1%} of the bytes all ops write"
            record("anatomy", f"{label}: {kind}", "caffenet", mb, "MB", f"{ops} ops, {share}; one step at batch "
                   f"{batch}, {device}")
            note(f"{label}: {kind}: {ops} ops, {mb:.1f} MB written ({share})")
    profile = step_profile(caffenet_run(device, batch, compile_net=False, lrn_fused=lrn_fused), steps)
    where = "device" if device.type == "cuda" else "CPU"
    record("anatomy", f"{label}: copies' share of {where} time", "caffenet", profile["copies"], "frac",
           f"copy_, _to_copy, clone; {profile['total_ms']:.1f} ms of self time per step")
    note(f"{label}: {profile['total_ms']:.1f} ms of {where} self time per step, copies {profile['copies']:.1%}")
    for op, share in profile["top"]:
        record("anatomy", f"{label}: {op}", "caffenet", share, "frac", f"share of {where} self time")
        note(f"{label}: {op}: {share:.1%} of {where} self time")
    return {"traffic": traffic, "profile": profile}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8, help="images per step (the workflow's caffenet uses 256)")
    p.add_argument("--steps", type=int, default=3, help="profiled steps")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    for lrn_fused in (False, True):
        result = measure_anatomy(device, args.batch, args.steps, lrn_fused)
        print(f"caffenet eager{', fused LRN' if lrn_fused else ''}, batch {args.batch}, {device}:")
        total = result["traffic"].get("all ops", (0, 1.0))[1]
        for kind, (ops, mb) in result["traffic"].items():
            print(f"  {kind:<48} {ops:5d} ops {mb:10.1f} MB written ({mb / total:6.1%})")
        profile = result["profile"]
        print(f"  profile: {profile['total_ms']:.1f} ms of self time per step; copies {profile['copies']:.1%}")
        for op, share in profile["top"]:
            print(f"    {op:<44} {share:6.1%}")


if __name__ == "__main__":
    main()
