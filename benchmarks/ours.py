"""Our training path: the real train() and its step loop, evaluation, and the cost of checkpoints."""

import csv
import statistics
import time

from harness import Setup, T, build_run, note, record, steady_rate, sync


def measure_ours(setup: Setup, net: str, seconds: float, source=None, item=None, section="ours"):
    """Steady-state rate of the step loop (for seconds/2, at most 8 s), then the real train() for about `seconds`
    (whole epochs, at least one); returns train()'s images_per_s (what metrics.json reports) and its job."""
    item = item or net
    run = build_run(setup.job(net, source, tag="-probe"))
    steady, n_train = steady_rate(run, min(seconds / 2, 8.0)), len(run.train_data)
    record(section, f"{item}: step loop (steady)", setup.name, steady, "img/s",
           f"{n_train} training images, {setup.threads} thread(s), {setup.device}")
    del run
    epochs = max(1, round(seconds * steady / n_train))
    job = setup.job(net, source, epochs=epochs)
    metrics = T.train(job, log=lambda line: None)
    rate = record(section, f"{item}: train()", setup.name, metrics["images_per_s"], "img/s",
                  f"metrics.json images_per_s, {epochs} epoch(s), {sum_train_s(job):.1f} s training")
    note(f"{setup.name} {item}: {rate:.0f} img/s (train()), {steady:.0f} img/s (steady step loop)")
    return rate, job


def sum_train_s(job: T.Job) -> float:
    with open(job.out_dir / "epochs.csv") as f:
        return sum(float(r["train_s"]) for r in csv.DictReader(f))


def checkpoint_overhead(run, steady_rate: float, repeats: int = 5) -> dict:
    """Seconds to write one checkpoint (median), as a fraction of one epoch's training time."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run.save_checkpoint()
        times.append(time.perf_counter() - start)
    epoch_s = len(run.train_data) / steady_rate
    return {"checkpoint_s": statistics.median(times), "epoch_s": epoch_s,
            "fraction": statistics.median(times) / epoch_s}


def eval_rate(run, seconds: float) -> float:
    run.evaluate()  # warm-up
    sync(run.device)
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < seconds:
        run.evaluate()
        calls += 1
    sync(run.device)
    return calls * len(run.val_data) / (time.perf_counter() - start)
