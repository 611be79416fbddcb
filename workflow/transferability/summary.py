"""The end-of-run summary: each finding in one line (its outcome, the value tested with the confidence bound
its test used, its units and why), the paths of the run's figures and tables, and how to build the report
and compare runs.
Read from the tables the run wrote (findings.csv), never recomputed."""

import os
import re
import shlex
import textwrap
from pathlib import Path

import numpy as np

from . import tables
from .outputs import SUMMARY_TABLES

# On 2,000 tables of noise at every finding's null, the share in which at least one finding said reproduced
# (the largest over the designs and noise models of tests/test_analysis.py; docs/statistics.md).
FAMILY_WISE = 0.16
BOUND_COLUMNS = ("null", "ci_low", "ci_high", "confidence")  # findings.csv's columns of each test's bound
WIDTH = 108  # no line of the summary is wider: it is read in a terminal, a log or an e-mail
# In a run folder: the command that builds its report, written at the run's end (the summary command reads it,
# since a run folder alone does not say which --configfile made it).
REPORT_COMMAND_FILE = "report_command.txt"


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


def freezing_lines(path: Path) -> list[str]:
    """How many of A's units to freeze for B (freezing.csv: one answer per data set, split group and target)."""
    if not path.is_file():
        return []
    answers = tables.read_table(path)
    lines = wrapped(f"Units of A to freeze for B ({path}: within 1 point of the best AnB+, see docs/statistics.md):",
                    indent="", more="  ") if len(answers) else []
    for row in answers.itertuples():
        where = f"[{row.dataset}] " if answers["dataset"].nunique() > 1 else ""
        group = row.group + (f" half {row.target}" if isinstance(row.target, str) and row.target else "")
        lines += wrapped(f"{where}{group}: {row.outcome.upper()}; {row.answer}; {int(row.units)} units; {row.why}")
    return lines


def _listing(folder: Path, pattern: str, outputs=None) -> list[Path]:
    paths = sorted(folder.glob(pattern))
    if outputs is not None:
        wanted = set(map(str, outputs))
        paths = [path for path in paths if str(path) in wanted]
    return paths


def _figure_lines(folder: Path, outputs=None) -> list[str]:
    """Each figure once, in the formats it exists in (figure2_top.{png,pdf}; a PNG alone where no PDF was
    drawn). At a run's end, the formats among the run's outputs: Snakemake has just checked that they exist."""
    lines = []
    for png in _listing(folder, "*.png", outputs):
        pdf = png.with_suffix(".pdf")
        has_pdf = str(pdf) in set(map(str, outputs)) if outputs is not None else pdf.is_file()
        lines.append(f"  {png.with_suffix('')}.{{png,pdf}}" if has_pdf else f"  {png}")
    return lines


def wrapped(text: str, indent: str = "  ", more: str = "      ") -> list[str]:
    """A long line as several of at most WIDTH characters, the later ones indented further. Broken between
    its '; '-separated parts where they fit a line (a value stays beside its bound), never inside a word."""
    room = WIDTH - len(more)
    parts = [part.replace(" ", "\0") if len(part) <= room else part for part in text.split("; ")]
    lines = textwrap.wrap("; ".join(parts), WIDTH, initial_indent=indent, subsequent_indent=more,
                          break_long_words=False, break_on_hyphens=False)
    return [line.replace("\0", " ") for line in lines]


def command_lines(label: str, command: str) -> list[str]:
    """'label: command' in one line where it fits; else the label, then the command broken with
    backslashes, so that it still pastes into a shell as one command."""
    if len(label) + 2 + len(command) <= WIDTH:
        return [f"{label}: {command}"]
    lines, line = [], "  "
    for word in shlex.split(command):
        word = shlex.quote(word)
        if line.strip() and len(line) + len(word) + 3 > WIDTH:
            lines.append(line + " \\")
            line = "      "
        line += (" " if line.strip() else "") + word
    return [f"{label}:", *lines, line]


def report_command(run_folder, configfiles=()) -> str:
    """The snakemake command that builds a run's report, with the config files the run was given (shown
    relative to this folder where they lie below it, so that the command reads as the user typed it)."""
    options = [word for path in configfiles for word in ("--configfile", _shown(path))]
    return shlex.join(["snakemake", *options, "--report", f"{run_folder}/report.html"])


def _shown(path) -> str:
    relative = os.path.relpath(path) if os.path.isabs(path) else str(path)
    return str(path) if relative.startswith("..") else relative


def record_report_command(run_folder, configfiles) -> None:
    """Written at a run's end, beside its outputs: the summary command prints it for that folder."""
    Path(run_folder, REPORT_COMMAND_FILE).write_text(report_command(run_folder, configfiles) + "\n")


def recorded_report_command(run_folder) -> tuple[str, str]:
    """(the report command the run recorded at its end, a note). For a folder without one (a run of an older
    version, or stopped before its end), the command for its name: config.yaml's run `default` needs no
    config file, another run the config file named after it, looked for in config/ and here; found in
    neither, the command names CONFIG and the note says what it stands for."""
    run_folder = Path(run_folder)
    record = run_folder / REPORT_COMMAND_FILE
    if record.is_file():
        return record.read_text().strip(), ""
    if run_folder.name == "default":
        return report_command(run_folder), ""
    candidates = [Path("config", f"{run_folder.name}.yaml"), Path(f"{run_folder.name}.yaml")]
    if found := [path for path in candidates if path.is_file()]:
        return report_command(run_folder, found[:1]), ""
    return report_command(run_folder, ["CONFIG"]), (
        f"CONFIG: the config file of run {run_folder.name} (none recorded; not found as "
        f"{' or '.join(map(str, candidates))})")


def summary_lines(results_dir, report_command=None, outputs=None) -> list[str]:
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
    lines = [*wrapped(f"Findings ({findings_csv}: each row's test, see docs/statistics.md):", indent=""),
             "  a unit is one split and seed (its target halves are averaged: they are not independent); each test",
             "  is one-sided at alpha 0.05 with the confidence bound it used; on pure noise each finding says",
             f"  reproduced in at most 5% of runs, and at least one of the six in up to {FAMILY_WISE:.0%}; undetermined",
             "  rows and 'not shown' ones (too little power at the paper's effect) decide nothing."]
    for row in findings.itertuples():
        lines += wrapped(finding_line(row, several))
    lines += freezing_lines(results_dir / "tables" / "freezing.csv")
    lines += ["Figures:", *(_figure_lines(results_dir / "figures", outputs) or ["  none yet"])]
    table_paths = _listing(results_dir / "tables", "*.csv", outputs)
    lines += ["Tables:", *([f"  {path}" for path in table_paths] or ["  none yet"])]
    command, note = (report_command, "") if report_command else recorded_report_command(results_dir)
    lines += [*command_lines("Report", command), *(wrapped(note) if note else [])]
    lines += command_lines("Compare with another run", shlex.join(
        ["python", "-m", "transferability", "compare", str(results_dir), "OTHER_RUN", "--out", "comparison"]))
    return lines


# Tables every finished run writes beside those `all` asks for: summarize's, and the training curves' own.
SIDE_TABLES = (*SUMMARY_TABLES, "epochs", "training_curves")


def end_of_run_lines(plan, configfiles) -> list[str]:
    """What a successful run says at its end: its summary, with the command that builds its report. Nothing
    unless every net of the run exists and findings.csv is newer than each (a run stopped short of the
    tables, e.g. one net as its target, would show an older run's findings as this one's)."""
    findings = plan.files.table("findings")
    nets = plan.all_metrics()
    if not os.path.exists(findings) or not all(map(os.path.exists, nets)):
        return []
    if any(os.path.getmtime(net) > os.path.getmtime(findings) for net in nets):
        return []
    outputs = [*plan.final_outputs(), *(plan.files.table(name) for name in SIDE_TABLES)]
    try:
        return summary_lines(plan.files.root, report_command(plan.files.root, configfiles), outputs)
    except ValueError as error:  # a findings.csv of an older version: said, not a failed end of a run
        return [f"No summary: {error}"]


def failed_job_lines(jobs) -> list[str]:
    """What a failed run says last: for each job that failed for good, (rule, {wildcard: value}, log paths),
    its rule and wildcards (a training job's net), its log's last line (the job's own error, `error: ...`
    or a traceback's last line) and the log's path. Snakemake's error block above it shows the job's whole
    command, a training job's JSON settings included, and its log only with --show-failed-logs."""
    if not jobs:
        return []
    lines = [f"{len(jobs)} job{'s' if len(jobs) != 1 else ''} failed (each: its log's last line, then its log):"]
    for rule, wildcards, logs in jobs:
        named = ", ".join(f"{key}={value}" for key, value in wildcards.items())
        lines.append(f"  {rule} ({named}):" if named else f"  {rule}:")
        lines += wrapped(_last_line(logs[0]) if logs else "(this rule keeps no log)", "      ", "        ")
        lines += [f"      log: {path}" for path in logs]
    return lines


def _last_line(log) -> str:
    try:
        with open(log, errors="replace") as f:
            said = [line.strip() for line in f.readlines()[-50:] if line.strip()]
    except FileNotFoundError:
        return "(no log written: the job failed before its command ran)"
    return said[-1] if said else "(its log is empty)"
