"""The end-of-run summary: each finding in one line (its outcome, the value tested with the confidence bound
its test used, its units and why), the paths of the run's figures and tables, and how to build the report
and compare runs.
Read from the tables the run wrote (findings.csv), never recomputed."""

import os
import re
from pathlib import Path

import numpy as np

from . import tables

# On 2,000 tables of noise at every finding's null, the share in which at least one finding said reproduced
# (the largest over the designs and noise models of tests/test_analysis.py; docs/statistics.md).
FAMILY_WISE = 0.16
BOUND_COLUMNS = ("null", "ci_low", "ci_high", "confidence")  # findings.csv's columns of each test's bound
REPORT = "snakemake --report RUN_FOLDER/report.html  (with the run's own --configfile/--config options)"


def _number(value) -> str:
    return "" if value is None or np.isnan(value) else f"{value:.4f}"


def _interval(row) -> str:
    """The row's interval in words: a test's one-sided bound (the other end is infinite), with its null
    where that is not 0, or the two-sided interval of a value reported, not tested."""
    if np.isnan(row.ci_low) or np.isnan(row.ci_high):
        return ", no interval"
    level = f"{100 * row.confidence:g}%"
    if np.isinf(row.ci_low) or np.isinf(row.ci_high):
        side, bound = ("upper", row.ci_high) if np.isinf(row.ci_low) else ("lower", row.ci_low)
        null = f" (null {_number(row.null)})" if row.null != 0 else ""
        return f", one-sided {level} {side} bound {_number(bound)}{null}"
    return f", two-sided {level} CI [{_number(row.ci_low)}, {_number(row.ci_high)}]"


def finding_line(row, dataset_named=False) -> str:
    """One finding as one line: 'finding 4 (...): REPRODUCED; AnB - BnB at n=7 = -0.0801, one-sided 95% upper
    bound -0.0419; 4 units; p = 0.008 < 0.05'."""
    title = re.split(r"[:;]", row.statement)[0].split(". ", 1)[-1].rstrip(".")  # "2. Fragile co-adaptation: ..."
    where = f"[{row.dataset}] " if dataset_named and row.dataset else ""
    value = f"{row.measured} = {_number(row.value)}" if _number(row.value) else row.measured
    interval = _interval(row)
    units = f"{int(row.units)} unit{'s' if row.units != 1 else ''}"
    return f"{where}finding {row.finding} ({title}): {row.outcome.upper()}; {value}{interval}; {units}; {row.why}"


def _listing(folder: Path, pattern: str, outputs=None) -> list[str]:
    paths = sorted(folder.glob(pattern))
    if outputs is not None:
        wanted = set(map(str, outputs))
        paths = [path for path in paths if str(path) in wanted]
    return [f"  {path}" for path in paths]


def summary_lines(results_dir, report_command=REPORT, outputs=None) -> list[str]:
    """The summary of the run whose outputs are in `results_dir` (holding tables/ and figures/): its
    `outputs` where given (files an earlier config left in the folder are not this run's), else all."""
    results_dir = Path(results_dir)
    findings_csv = results_dir / "tables" / "findings.csv"
    if not findings_csv.is_file():
        raise FileNotFoundError(f"{results_dir}: no tables/findings.csv (a run's summarize job writes it)")
    findings = tables.read_table(findings_csv)
    if missing := [c for c in BOUND_COLUMNS if c not in findings]:
        raise ValueError(f"{findings_csv}: written before findings showed the bound their test used (no "
                         f"{', '.join(missing)}); rewrite it: snakemake --forcerun summarize_layers (with the run's "
                         "config options)")
    several = findings["dataset"].nunique() > 1
    lines = [f"Findings ({findings_csv}: each row's test, see docs/statistics.md):",
             "  a unit is one split and seed (its target halves are averaged: they are not independent); each test",
             "  is one-sided at alpha 0.05 with the confidence bound it used; on pure noise each finding says",
             f"  reproduced in at most 5% of runs, and at least one of the six in up to {FAMILY_WISE:.0%}; undetermined",
             "  rows and 'not shown' ones (too little power at the paper's effect) decide nothing."]
    lines += ["  " + finding_line(row, several) for row in findings.itertuples()]
    figures = [line.replace(".png", ".{png,pdf}") for line in _listing(results_dir / "figures", "*.png", outputs)]
    lines += ["Figures:", *(figures or ["  none yet"])]
    lines += ["Tables:", *(_listing(results_dir / "tables", "*.csv", outputs) or ["  none yet"])]
    lines += [f"Report: {report_command}",
              f"Compare with another run: python -m transferability compare {results_dir} OTHER_RUN --out comparison"]
    return lines


# Tables every finished run writes beside those `all` asks for (summarize's and the training curves' own).
SIDE_TABLES = ("unit_effects", "reduced_data", "epochs", "training_curves")


def end_of_run_lines(plan, configfiles) -> list[str]:
    """What a successful run says at its end: its summary, with the command that builds its report. Nothing
    unless every net of the run exists and findings.csv is newer than each (a run stopped short of the
    tables, e.g. one net as its target, would show an older run's findings as this one's)."""
    findings = plan.table("findings")
    nets = plan.all_metrics()
    if not os.path.exists(findings) or not all(map(os.path.exists, nets)):
        return []
    if any(os.path.getmtime(net) > os.path.getmtime(findings) for net in nets):
        return []
    options = "".join(f"--configfile {path} " for path in configfiles)
    outputs = [*plan.final_outputs(), *(plan.table(name) for name in SIDE_TABLES)]
    try:
        return summary_lines(plan.root, f"snakemake {options}--report {plan.root}/report.html", outputs)
    except ValueError as error:  # a findings.csv of an older version: said, not a failed end of a run
        return [f"No summary: {error}"]
