"""`python -m transferability <command>`: the commands a user runs on a run's results (summary, compare),
and the single line each Snakemake rule runs (listed apart in --help).

Every error a user can cause ends as one line `error: ...` on stderr and a non-zero exit.
"""

import argparse
import json
import sys
import textwrap
from pathlib import Path

from . import splits, warm
from .data import DataError, build_cache
from .io import atomic_path, read_json
from .outputs import FIGURE_TABLES, FIGURES, SUMMARY_TABLES

# Commands that need torch: a local run hands them to its warm server (warm.py), saving the import.
WARM_COMMANDS = ("train", "similarity", "probes", "filters")
# Training jobs import only what they use: pandas, matplotlib and torch load lazily per command.


def cache_data(args) -> None:
    meta = build_cache(json.loads(args.dataset), args.out, workers=args.workers)
    print(f"cached {meta['n_train']} training and {meta['n_val']} validation images of "
          f"{len(meta['classes'])} classes in {args.out}")


def split_classes(args) -> None:
    classes = read_json(args.meta)["classes"]
    half_a, half_b = splits.halves(classes, json.loads(args.definition))
    splits.write_split(args.out, classes, half_a, half_b)
    print(f"{args.out}: {len(half_a)} classes in A, {len(half_b)} in B")


def train_net(args) -> None:
    from .train import Job, train

    job = Job(settings=json.loads(args.settings), data_dir=Path(args.data), split_file=Path(args.split),
              out_dir=Path(args.out_dir), checkpoint_dir=Path(args.checkpoint_dir),
              source_weights=Path(args.source) if args.source else None, threads=args.threads,
              device=args.device, checkpoint_minutes=args.checkpoint_minutes, compile=args.compile,
              cuda_graphs=args.cuda_graphs, nets_per_gpu=args.nets_per_gpu)
    metrics = train(job, log=lambda line: print(line, flush=True))
    print(f"done: top-1 {metrics['top1']:.4f}, top-5 {metrics['top5']:.4f}, {metrics['wall_s']:.1f} s")


def pretrained_source(args) -> None:
    from .pretrained import write_source_units

    channels = read_json(args.meta)["channels"]
    write_source_units(Path(args.weights), json.loads(args.model), channels, Path(args.out))
    print(f"{args.out}: half A's units from the pretrained source {args.weights} (its classifier left out)")


def warm_up_training() -> None:
    """What the warm server does once for all its jobs: import the training code, and build an optimiser and
    its schedule (torch.optim imports torch._dynamo on first use, about a second; see optim.py)."""
    import torch

    from . import optim, train  # noqa: F401

    optimizer = optim.sgd([torch.zeros(1, requires_grad=True)], {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0})
    optim.step_schedule(optimizer, 0.1, 1)


def remove_checkpoints(args) -> None:
    from .checkpoint import remove_finished

    nets, root = Path(args.nets), Path(args.root)  # a net's checkpoints mirror its folder under nets
    pairs = [(metrics, root / Path(metrics).parent.relative_to(nets)) for metrics in args.metrics]
    removed = remove_finished(pairs, root)
    with atomic_path(args.out) as tmp:
        tmp.write_text(f"{len(pairs)} nets finished; the checkpoints of {removed} removed from {root}\n")
    print(f"removed the checkpoints of {removed} finished nets")


def collect(args) -> None:
    from . import tables

    table = tables.collect_metrics(args.metrics, json.loads(args.split_kinds))
    tables.write_csv(table, args.out)


def collect_epochs(args) -> None:
    from . import tables

    table = tables.collect_epochs(args.metrics, json.loads(args.split_kinds))
    tables.write_csv(table, args.out)
    print(f"{args.out}: {len(table)} epochs of {len(args.metrics)} nets")


def training_curves(args) -> None:
    from . import analysis, curves, plots, tables

    epochs = tables.read_nets(args.epochs)
    tables.write_csv(analysis.training_curves(epochs), args.table, decimals=4)
    fig = curves.training_curves_figure(epochs, json.loads(args.context))  # the table's means and intervals
    for path in args.out:
        plots.save(fig, path, dpi=args.dpi)


def summarize(args) -> None:
    from . import analysis, tables

    summary = analysis.summarize(tables.read_nets(args.nets))
    for name, table in summary.items():
        # the per-unit values keep more digits: the compare command's intervals are computed from them
        tables.write_csv(table, getattr(args, name), decimals=6 if name == "unit_effects" else 4)
    for row in summary["findings"].itertuples():
        print(f"finding {row.finding}: {row.outcome} ({row.why})")
    for row in summary["freezing"].itertuples():
        print(f"units of A to freeze ({row.group}{' ' + row.target if row.target else ''}): {row.answer}")


def paper_comparison(args) -> None:
    from . import analysis, tables

    per_layer = tables.read_table(args.per_layer)
    tables.write_csv(analysis.compare_with_paper(per_layer, analysis.paper_per_layer()), args.out, decimals=4)


def compare_runs(args) -> None:
    from .compare import run_names, write_comparison

    table = write_comparison(args.runs, args.out, dpi=args.dpi)
    print(f"{args.out}: comparison.csv ({len(table)} rows), comparison.png and comparison.pdf of "
          f"{table['run'].nunique()} runs; differences from {run_names(args.runs)[0]}")


def summary(args) -> None:
    from .summary import summary_lines

    print("\n".join(summary_lines(args.results, args.report_command)))


def figure(args) -> None:
    from . import plots, tables

    written = {name: tables.read_table(getattr(args, name)) for name in FIGURE_TABLES}
    fig = plots.draw(args.name, tables.read_nets(args.nets), written, context=json.loads(args.context),
                     paper=args.paper)
    for path in args.out:
        plots.save(fig, path, dpi=args.dpi)


def _unit(args):
    """One split and seed of the analyses: data cache, class halves, nets folder and model settings."""
    import torch

    from .data import load_cache
    from .similarity import Unit

    torch.set_num_threads(args.threads)
    return Unit(split=args.split_name, seed=args.seed, cache=load_cache(args.data),
                halves=splits.read_split(args.split), nets_dir=Path(args.nets_dir),
                arch=json.loads(args.model), max_features=args.max_features)


def similarity(args) -> None:
    from . import tables
    from .similarity import similarity_rows

    rows = similarity_rows(_unit(args), args.fine_tuned, args.images)
    tables.write_csv(rows, args.out)
    print(f"{len(rows)} CKA values of {args.split_name} seed {args.seed} on {rows['images'].max()} images")


def probes(args) -> None:
    from . import tables
    from .similarity import probe_rows

    rows = probe_rows(_unit(args), args.images_per_class, args.targets)
    tables.write_csv(rows, args.out)
    print(f"{len(rows)} linear probes of {args.split_name} seed {args.seed}")


def filters(args) -> None:
    from . import layer_figures, plots

    panels = layer_figures.first_layer_filters(args.weights, args.seed, json.loads(args.model))
    fig = layer_figures.filter_atlas(panels, subtitle=f"{args.split_name}, seed {args.seed}")
    for path in args.out:
        plots.save(fig, path, dpi=args.dpi)


def layer_measures(args) -> None:
    from . import layer_figures, measures, plots, tables

    kinds = json.loads(args.split_kinds)
    similarity, probe = measures.read_units(args.similarity), measures.read_units(args.probes)
    if similarity is not None:
        tables.write_csv(measures.rounded(measures.similarity_summary(similarity, kinds)), args.similarity_out)
    if probe is not None:
        tables.write_csv(measures.rounded(measures.probe_summary(probe, kinds)), args.probes_out)
    units = measures.layer_measure_units(tables.read_nets(args.nets), similarity, probe, kinds)
    per_layer = measures.summarise(units, ["group", "measure", "n"], "value")
    correlations = measures.rank_correlations(per_layer)
    tables.write_csv(measures.rounded(per_layer), args.measures_out)
    tables.write_csv(measures.rounded(correlations), args.correlations_out)
    fig = layer_figures.layer_measures_figure(units, correlations)
    for path in args.out:
        plots.save(fig, path, dpi=args.dpi)


DESCRIPTION = """\
Commands for a run's results. The run itself is Snakemake's: `make run` or `snakemake --cores all`
(a preset or your own config: `snakemake --cores all --configfile config/cifar10.yaml`); it prints
its summary at its end."""
EXAMPLES = """\
examples:
  python -m transferability summary results/default
      the default run's findings, its figures and tables, and the command that builds its report
  python -m transferability compare results/default results/cifar10 --out comparison
      two runs' effects per n side by side (comparison.csv, .png, .pdf)
  snakemake --report results/default/report.html
      the run's HTML report, built by Snakemake (another run: add its --configfile, as summary prints)"""


class RuleCommands:
    """add_parser for the commands the workflow's rules run: each keeps its one-line help as the description
    of its own --help, and stays off the list of the main --help, which names them after its examples."""

    def __init__(self, sub):
        self.sub, self.names = sub, []

    def add_parser(self, name, help):
        self.names.append(name)
        return self.sub.add_parser(name, description=help)

    def listing(self) -> str:
        names = textwrap.fill(", ".join(self.names), 100, initial_indent="  ", subsequent_indent="  ",
                              break_on_hyphens=False)
        return f"The workflow's rules run the other commands, one per job (each has its own --help):\n{names}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m transferability", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True, title="commands", metavar="<command>")
    _add_run_commands(sub)
    p.epilog = EXAMPLES + "\n\n" + _add_rule_commands(RuleCommands(sub)).listing()
    return p


def _add_rule_commands(sub: RuleCommands) -> RuleCommands:
    """Every command a rule of the workflow runs, in the order of the workflow."""
    _add_job_commands(sub)
    _add_table_commands(sub)
    _add_curve_commands(sub)
    f = sub.add_parser("figure", help="draw one figure")
    f.add_argument("name", choices=FIGURES)
    f.add_argument("--nets", required=True)
    for name in FIGURE_TABLES:
        f.add_argument(f"--{name.replace('_', '-')}", required=True, help=f"{name}.csv of the summarize command")
    f.add_argument("--context", default="{}",
                   help='JSON: {"model": ..., "training": ..., "halves": {split: {"A": name, "B": name}}}')
    f.add_argument("--paper", action="store_true", help="draw the paper's values faintly beside ours")
    f.add_argument("--dpi", type=int, default=200)
    f.add_argument("--out", nargs="+", required=True)
    f.set_defaults(run=figure)
    _add_unit_commands(sub)
    v = sub.add_parser("filters", help="the conv1 filter atlas of baseA, baseB and a random-init net")
    v.add_argument("--weights", nargs=2, required=True, help="baseA's and baseB's weights.safetensors")
    v.add_argument("--model", required=True, help="the architecture, as JSON")
    v.add_argument("--split-name", required=True)
    v.add_argument("--seed", type=int, required=True)
    v.add_argument("--dpi", type=int, default=200)
    v.add_argument("--out", nargs="+", required=True)
    v.set_defaults(run=filters)
    y = sub.add_parser("layer-measures", help="similarity and probe tables, and the cheap measures against the transfer drop")
    y.add_argument("--nets", required=True)
    y.add_argument("--split-kinds", required=True, help='JSON: {"split": "random" | "explicit"}')
    y.add_argument("--similarity", nargs="*", default=[], help="per split and seed similarity.csv files")
    y.add_argument("--probes", nargs="*", default=[], help="per split and seed probes.csv files")
    y.add_argument("--similarity-out")
    y.add_argument("--probes-out")
    y.add_argument("--measures-out", required=True)
    y.add_argument("--correlations-out", required=True)
    y.add_argument("--dpi", type=int, default=200)
    y.add_argument("--out", nargs="+", required=True)
    y.set_defaults(run=layer_measures)
    return sub


def _add_table_commands(sub) -> None:
    """The tables of every net and epoch, the per-layer summary and the paper's values beside it."""
    for name, run, helptext in (("collect", collect, "one tidy table of all trained nets"),
                                ("collect-epochs", collect_epochs, "one table of every net's epochs (epochs.csv beside metrics.json)")):
        a = sub.add_parser(name, help=helptext)
        a.add_argument("--split-kinds", required=True, help='JSON: {"split": "random" | "explicit"}')
        a.add_argument("--out", required=True)
        a.add_argument("metrics", nargs="+", help="the nets' metrics.json")
        a.set_defaults(run=run)
    m = sub.add_parser("summarize", help="per-layer means, effects and the paper's findings")
    m.add_argument("--nets", required=True)
    for name in SUMMARY_TABLES:
        m.add_argument(f"--{name.replace('_', '-')}", required=True, help=f"where to write {name}.csv")
    m.set_defaults(run=summarize)
    c = sub.add_parser("paper-comparison", help="our per-layer means next to the paper's")
    c.add_argument("--per-layer", required=True, help="per_layer.csv of the summarize command")
    c.add_argument("--out", required=True)
    c.set_defaults(run=paper_comparison)


def _add_job_commands(sub) -> None:
    """The data cache, the split, the training job, the warm server and the checkpoints' removal."""
    c = sub.add_parser("cache-data", help="decode a data set once into uint8 arrays")
    c.add_argument("--dataset", required=True, help="the config's dataset section, as JSON")
    c.add_argument("--out", required=True)
    c.add_argument("--workers", type=int, default=None, help="image-decoding threads (default: one per CPU)")
    c.set_defaults(run=cache_data)
    s = sub.add_parser("split", help="write the class halves A and B of one split")
    s.add_argument("--meta", required=True)
    s.add_argument("--definition", required=True, help='JSON: {"random_seed": s} or {"A": [...], "B": [...]}')
    s.add_argument("--out", required=True)
    s.set_defaults(run=split_classes)
    p = sub.add_parser("pretrained-source", help="a torchvision weights file as half A's units, for the AnB nets")
    p.add_argument("--weights", required=True, help="the state-dict file (config key source.weights)")
    p.add_argument("--meta", required=True, help="the data cache's meta.json (its images' channels)")
    p.add_argument("--model", required=True, help="the net's architecture, as JSON")
    p.add_argument("--out", required=True)
    p.set_defaults(run=pretrained_source)
    t = sub.add_parser("train", help="train one net")
    t.add_argument("--settings", required=True, help="JSON of everything that decides the result")
    t.add_argument("--data", required=True)
    t.add_argument("--split", required=True)
    t.add_argument("--source", default="", help="the base net whose first n layers are copied")
    t.add_argument("--out-dir", required=True)
    t.add_argument("--checkpoint-dir", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--checkpoint-minutes", type=float, default=0.0)
    t.add_argument("--compile", action="store_true", help="torch.compile the net")
    t.add_argument("--cuda-graphs", action="store_true", help="replay each step as a CUDA graph (train.cuda_graphs)")
    t.add_argument("--nets-per-gpu", type=int, default=1, help="training jobs sharing one GPU (resources.nets_per_gpu)")
    t.set_defaults(run=train_net)
    w = sub.add_parser("warm-server", help="import the training code once; fork a copy per training job")
    w.add_argument("socket")
    w.add_argument("parent_pid", type=int, help="serve until this process ends")
    w.set_defaults(run=lambda args: warm.serve(args.socket, args.parent_pid, entry=main, warm_up=warm_up_training))
    r = sub.add_parser("remove-checkpoints", help="drop the checkpoints of finished nets")
    r.add_argument("--nets", required=True, help="the folder of the nets' outputs")
    r.add_argument("--root", required=True, help="the folder of their checkpoints")
    r.add_argument("--out", required=True, help="a one-line record of what was removed")
    r.add_argument("metrics", nargs="+", help="the finished nets' metrics.json")
    r.set_defaults(run=remove_checkpoints)


def _add_unit_commands(sub) -> None:
    """similarity and probes: one split and seed's nets, measured on its validation images."""
    for name, run, helptext in (("similarity", similarity, "linear CKA between the layers of one split and seed's nets"),
                                ("probes", probes, "linear probes on the frozen layers of one split and seed's base nets")):
        u = sub.add_parser(name, help=helptext)
        u.add_argument("--data", required=True, help="the data cache folder")
        u.add_argument("--split", required=True, help="the split's class halves (.tsv)")
        u.add_argument("--split-name", required=True)
        u.add_argument("--seed", type=int, required=True)
        u.add_argument("--nets-dir", required=True, help="results/nets/<split>/seed<seed>")
        u.add_argument("--model", required=True, help="the architecture, as JSON")
        u.add_argument("--max-features", type=int, default=4096, help="larger conv maps are average-pooled")
        u.add_argument("--threads", type=int, default=1)
        u.add_argument("--out", required=True)
        u.set_defaults(run=run)
        if name == "similarity":
            u.add_argument("--images", type=int, required=True, help="validation images in the probe set")
            u.add_argument("fine_tuned", nargs="*", help="fine-tuned nets to compare with their source")
        else:
            u.add_argument("--images-per-class", type=int, required=True)
            u.add_argument("--targets", nargs="+", choices=["A", "B"], default=["A", "B"],
                           help="the halves probed (the targets of the split's directions)")


def _add_curve_commands(sub) -> None:
    """The training curves' table and figure."""
    t = sub.add_parser("training-curves", help="validation top-1 per epoch by treatment and n: table and figure")
    t.add_argument("--epochs", required=True, help="the collect-epochs table")
    t.add_argument("--table", required=True, help="where to write the curves' table (the figure draws it)")
    t.add_argument("--context", default="{}", help='JSON: {"dataset": ..., "model": ..., "training": ...}')
    t.add_argument("--dpi", type=int, default=200)
    t.add_argument("--out", nargs="+", required=True)
    t.set_defaults(run=training_curves)


def _add_run_commands(sub) -> None:
    """The commands a user runs on finished runs: summary, compare."""
    y = sub.add_parser("summary", help="a finished run's findings, its figures and tables, its report command",
                       description="A finished run's findings (one entry each), its figures and tables, and the "
                                   "command that builds its report.",
                       epilog="example: python -m transferability summary results/default")
    y.add_argument("results", help="the run's folder of outputs (holding tables/ and figures/): results/<run>")
    y.add_argument("--report-command", help="how this run's report is built (default: the command the run "
                                            "recorded at its end, with its --configfile)")
    y.set_defaults(run=summary)
    c = sub.add_parser("compare", help="runs' effects per n side by side, with intervals of their differences",
                       description="Two or more runs' effects per n side by side, with Welch intervals of their "
                                   "differences from the first run.",
                       epilog="example: python -m transferability compare results/default results/cifar10 "
                              "--out comparison")
    c.add_argument("runs", nargs="+", help="run folders (each with tables/unit_effects.csv); the first is the reference")
    c.add_argument("--out", required=True, help="folder for comparison.csv, comparison.png and comparison.pdf")
    c.add_argument("--dpi", type=int, default=200)
    c.set_defaults(run=compare_runs)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in WARM_COMMANDS and (status := warm.run_warm(argv)) is not None:
        return status
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (DataError, splits.SplitError, ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
