"""a finished run's findings, its figures and tables, its report command

A finished run's findings (one entry each), its figures and tables, and the command that builds its report.

example: python -m transferability summary results/default"""

from typing import Annotated

LISTED = 1  # a command for a run's results: in the main --help, first


def run(results: Annotated[str, "the run's folder of outputs (holding tables/ and figures/): results/<run>"], *,
        report_command: Annotated[str | None, "how this run's report is built (default: the command the run "
                                              "recorded at its end, with its --configfile)"] = None) -> None:
    from ..summary import summary_lines

    print("\n".join(summary_lines(results, report_command)))
