"""`python -m transferability <command>`: the commands a user runs on a run's results (summary, compare), and
the single line each Snakemake rule runs (listed apart in --help). Each command is a module of commands/.

Every error a user can cause ends as one line `error: ...` on stderr and a non-zero exit.
"""

import argparse
import sys
import textwrap

from . import commands, warm
from .datasets import DataError
from .splits import SplitError

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


def parser() -> argparse.ArgumentParser:
    """The user's commands listed with their help; the rules' commands named after the examples."""
    p = argparse.ArgumentParser(prog="python -m transferability", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True, title="commands", metavar="<command>")
    order = {name: getattr(commands.load(name), "LISTED", 0) for name in commands.names()}
    for name in sorted((name for name in order if order[name]), key=order.get):
        commands.add_parser(sub, name, listed=True)
    rules = [name for name in order if not order[name]]
    for name in rules:
        commands.add_parser(sub, name, listed=False)
    listing = textwrap.fill(", ".join(rules), 100, initial_indent="  ", subsequent_indent="  ",
                            break_on_hyphens=False)
    p.epilog = (f"{EXAMPLES}\n\nThe workflow's rules run the other commands, one per job (each has its own "
                f"--help):\n{listing}")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if is_warm(argv) and (status := warm.run_warm(argv)) is not None:  # torch already imported there
        return status
    args = vars(parser().parse_args(argv))
    try:
        args.pop("run")(**args)
    except (DataError, SplitError, ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def is_warm(argv: list[str]) -> bool:
    """Whether the command needs torch: a local run's warm server runs it (warm.py)."""
    return bool(argv) and argv[0] in commands.names() and getattr(commands.load(argv[0]), "WARM", False)
