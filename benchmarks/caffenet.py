"""The paper's net (the caffenet preset) trained by our step at batch 256 on device-resident images:
images/s, achieved TFLOP/s and the fraction of the device's dense bf16 peak."""

import torch

from harness import SCHEMA, T, fill_defaults, note, record, steady_rate
from transferability import plan
from transferability.batches import HalfData
from transferability.config import check_config, load_schema
from transferability.model import forward_flops
from transferability.run_options import RunOptions


# Dense bf16 tensor-core peaks (TFLOP/s, fp32 accumulation) from the vendors' data sheets; the first name
# contained in the device's name wins. --peak-tflops overrides.
BF16_PEAK_TFLOPS = [("H200", 989.4), ("H100 PCIe", 756.5), ("H100 NVL", 835.5), ("H100", 989.4),
                    ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0)]


def bf16_peak_tflops(device) -> float:
    return peak_for(torch.cuda.get_device_name(device)) if device.type == "cuda" else float("nan")


def peak_for(gpu_name: str) -> float:
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key in gpu_name), float("nan"))


def caffenet_run(device, batch: int, compile_net: bool, lrn_fused: bool = False, precision: str = "bf16") -> T.Run:
    """Our training step on the caffenet preset (227 px crops of 256 px images, 1000 classes), on random
    images kept on the device: what one ImageNet base net's job runs, without the disk. `lrn_fused`:
    model.lrn_fused (the LRN layers compiled into fused kernels on a GPU); `precision`: train.precision."""
    model = {"preset": "caffenet", **({"lrn_fused": True} if lrn_fused else {})}
    cfg = {"dataset": {"kind": "synthetic"}, "model": model, "augment": {"crop_padding": 0},
           "train": {"batch_size": batch, "eval_batch_size": batch, "precision": precision}}
    check_config(cfg, load_schema(SCHEMA))
    fill_defaults(cfg, load_schema(SCHEMA))
    settings = plan.train_settings(cfg, "bench", 0, "baseB")
    n = 4 * batch
    images = torch.randint(0, 256, (n, 3, 256, 256), dtype=torch.uint8, device=device)
    data = HalfData(images, torch.randint(0, 1000, (n,), device=device), 1000)
    net = T.build_net(settings, 3, 1000)
    job = T.Job(settings=settings, data_dir=None, split_file=None, out_dir=None, checkpoint_dir=None,
                options=RunOptions(device=device.type, compile=compile_net))
    meta = {"mean": [120.0] * 3, "std": [60.0] * 3, "classes": [f"class{i}" for i in range(1000)],
            "fingerprint": "random images of the benchmark"}
    identity = T.net_identity(settings, meta, list(range(1000)), None)  # what its checkpoints would record
    run = T.Run(job, net, (data, data), meta, identity, device, log=note)
    if compile_net:
        index = torch.arange(batch, device=device)
        run.train_step(index, data.images[index])  # compiles; run.compile_s says how long it took
    return run


def measure_caffenet(device, batch: int, seconds: float, peak: float, compile_net: bool,
                     lrn_fused: bool = False) -> dict:
    run = caffenet_run(device, batch, compile_net, lrn_fused)
    rate = steady_rate(run, seconds, warmup=3)  # a fused LRN compiles in the first step, before the timing
    tflops = rate * 3 * forward_flops(run.job.settings["model"], 3, 1000) / 1e12
    label = ("compiled" if compile_net else "eager") + (", fused LRN" if lrn_fused else "")
    record("caffenet", f"caffenet {label}: step loop (steady)", "caffenet", rate, "img/s", f"batch {batch}, {device}")
    record("caffenet", f"caffenet {label}: achieved", "caffenet", tflops, "TFLOP/s",
           "3 x forward FLOPs per image (forward + backward)")
    record("caffenet", f"caffenet {label}: fraction of bf16 peak", "caffenet", tflops / peak, "frac",
           f"peak {peak} TFLOP/s")
    if compile_net:
        record("caffenet", "caffenet compiled: compile time", "caffenet", run.compile_s, "s", "first step")
    note(f"caffenet {label}: {rate:.0f} img/s, {tflops:.1f} TFLOP/s, {tflops / peak:.1%} of bf16 peak")
    return {"images_per_s": rate, "tflops": tflops, "peak_fraction": tflops / peak, "compile_s": run.compile_s}
