"""train one net"""

from pathlib import Path
from typing import Annotated

from ..run_options import RunOptions

WARM = True


def run(*, settings: Annotated[dict, "JSON of everything that decides the result"], data: Path, split: Path,
        source: Annotated[str, "the base net whose first n layers are copied"] = "", out_dir: Path,
        checkpoint_dir: Path, threads: int = 1,
        run_options: Annotated[RunOptions, "JSON: how the job runs (device, checkpoints, compilation), "
                                           "not what it computes"] = RunOptions()) -> None:
    from ..train import Job, train

    job = Job(settings=settings, data_dir=data, split_file=split, out_dir=out_dir, checkpoint_dir=checkpoint_dir,
              source_weights=Path(source) if source else None, threads=threads, options=run_options)
    metrics = train(job, log=lambda line: print(line, flush=True))
    print(f"done: top-1 {metrics['top1']:.4f}, top-5 {metrics['top5']:.4f}, {metrics['wall_s']:.1f} s")
