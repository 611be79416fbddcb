"""Tests of the end-of-run summary (transferability.summary, `python -m transferability summary`)."""

import os
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from test_plots import nets, written_tables  # noqa: F401 (nets: the fixture)

from transferability.config import load_config
from transferability import cli, plan, summary, tables


def entries(lines: list[str]) -> list[str]:
    """The summary's lines with each wrapped finding joined back into one."""
    joined = []
    for line in lines:
        if line.startswith("      ") and joined:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    return joined


def test_each_finding_in_one_entry_with_outcome_value_and_units(nets, tmp_path, capsys):  # noqa: F811
    written_tables(nets, tmp_path / "tables")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "figure2_top.png").write_bytes(b"")
    assert cli.main(["summary", str(tmp_path), "--report-command", "snakemake --report r.html"]) == 0
    lines = capsys.readouterr().out.splitlines()
    findings = tables.read_table(tmp_path / "tables" / "findings.csv")
    said = [line for line in entries(lines) if line.startswith("  finding ")]
    assert len(said) == len(findings) == 7
    for line, row in zip(said, findings.itertuples()):
        assert f"finding {row.finding} (" in line and row.outcome.upper() in line
        assert f"; {row.units} unit" in line and line.endswith(row.why)
    joined = entries(lines)
    header = joined[joined.index(next(line for line in joined if line.startswith("Findings ("))):][:5]
    assert "one split and seed (its target halves are averaged" in header[1] and "alpha 0.05" in header[2]
    assert f"at least one of the six in up to {summary.FAMILY_WISE:.0%}" in header[3]
    assert all(len(line) <= 110 for line in header[1:]), header
    co_adaptation = findings[findings["finding"] == "4"].iloc[0]  # 2 clusters (seeds): a one-sided 95% bound
    assert f"= {co_adaptation.value:.4f}, one-sided 95% upper bound {co_adaptation.ci_high:.4f};" in said[3]
    assert said[1].startswith("  finding 2 (Fragile co-adaptation): ")
    base = findings[findings["finding"] == "1"].iloc[0]  # reported, not tested
    assert f", two-sided 95% CI [{base.ci_low:.4f}, {base.ci_high:.4f}];" in said[0]
    without = [line for line, low in zip(said, findings["ci_low"]) if low != low]  # NaN: no spread
    assert without and all("no interval" in line for line in without)
    assert f"  {tmp_path / 'figures' / 'figure2_top.png'}" in lines  # no PDF was drawn
    assert f"  {tmp_path / 'tables' / 'unit_effects.csv'}" in lines
    assert "Report: snakemake --report r.html" in lines


def test_a_lower_bound_names_a_null_other_than_zero():
    """Finding 3 (non-inferiority) is tested against -0.01: its line says so beside its lower bound."""
    row = pd.DataFrame([dict(dataset="d", finding="3", statement="3. Fine-tuning recovers: x.", outcome="reproduced",
                             measured="mean over n of BnB+ - baseB", value=0.0046, null=-0.01, ci_low=-0.0031,
                             ci_high=np.inf, confidence=0.95, units=4, why="p = 0.0046 < 0.05")])
    assert summary.finding_line(next(row.itertuples())) == (
        "finding 3 (Fine-tuning recovers): REPRODUCED; mean over n of BnB+ - baseB = 0.0046, one-sided 95% lower "
        "bound -0.0031 (null -0.0100); 4 units; p = 0.0046 < 0.05")


def test_a_run_without_findings_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["summary", str(tmp_path)]) == 1
    assert f"{tmp_path}: no tables/findings.csv" in capsys.readouterr().err


def test_findings_written_before_their_bounds_are_a_clear_error(nets, tmp_path, capsys):  # noqa: F811
    """A run folder whose findings.csv an older version wrote (a two-sided ci95_low/ci95_high beside each test)
    is not summarised with the wrong interval: one line says which file and how to rewrite it."""
    written_tables(nets, tmp_path / "tables")
    findings = tables.read_table(tmp_path / "tables/findings.csv")
    old = findings.drop(columns=["null", "confidence"]).rename(columns={"ci_low": "ci95_low", "ci_high": "ci95_high"})
    tables.write_csv(old, tmp_path / "tables/findings.csv")
    capsys.readouterr()
    assert cli.main(["summary", str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert said.startswith(f"error: {tmp_path / 'tables/findings.csv'}: written before") and "--forcerun" in said


def test_the_run_says_its_summary_only_while_its_findings_are_newer_than_its_nets(nets, tmp_path, monkeypatch):  # noqa: F811
    """A run that stopped short of the tables (one net as its target, or nets still missing) must not show
    an older run's findings; and it lists its own outputs, not what an earlier config left in its folder."""
    monkeypatch.chdir(tmp_path)
    run = plan.Plan(load_config(ROOT / "tests/smoke.yaml"))
    assert summary.end_of_run_lines(run, []) == []  # no findings yet
    written_tables(nets, Path(run.files.root) / "tables")
    for name in ("figure2_top", "figure3"):  # figure3: a leftover, the smoke config draws none
        Path(run.files.figure(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(run.files.figure(name)).write_bytes(b"")
    metrics = [Path(path) for path in run.all_metrics()]
    for net in metrics[1:]:
        net.parent.mkdir(parents=True)
        net.write_text("{}")
        os.utime(net, (1, 1))  # older than the tables
    assert summary.end_of_run_lines(run, []) == []  # a net missing
    metrics[0].parent.mkdir(parents=True)
    metrics[0].write_text("{}")
    os.utime(metrics[0], (1, 1))
    lines = summary.end_of_run_lines(run, ["tests/smoke.yaml"])
    assert f"Report: snakemake --configfile tests/smoke.yaml --report {run.files.root}/report.html" in lines
    assert f"  {run.files.root}/figures/figure2_top.{{png,pdf}}" in lines
    assert not any("figure3" in line for line in lines)
    findings = tables.read_table(run.files.table("findings"))
    tables.write_csv(findings.drop(columns=["confidence"]), run.files.table("findings"))  # as an older version wrote it
    assert summary.end_of_run_lines(run, []) == [
        f"No summary: {run.files.table('findings')}: written before findings showed the bound their test used (no "
        "confidence); rewrite it: snakemake --forcerun summarize_layers (with the run's config options)"]
    retrained = os.stat(run.files.table("findings")).st_mtime_ns + 1_000_000_000  # set, not the clock's: mtimes are coarse
    os.utime(metrics[0], ns=(retrained, retrained))  # retrained after the tables were written
    assert summary.end_of_run_lines(run, []) == []


def test_summary_names_the_run_and_its_config_lists_what_exists_in_short_lines(nets, tmp_path, monkeypatch, capsys):  # noqa: F811
    """`summary results/cifar10`, typed by a user in the folder holding results/: its report command is one to
    paste (the run's real folder and config file, no placeholder), it lists the files that exist (a figure
    drawn as PNG only is not offered as PDF), and no line is wider than 110 characters."""
    monkeypatch.chdir(tmp_path)
    run = Path("results/cifar10")
    written_tables(nets, run / "tables")
    (run / "figures").mkdir()
    for name in ("figure2_top.png", "figure2_top.pdf", "figure3.png"):
        (run / "figures" / name).write_bytes(b"")
    Path("config").mkdir()
    Path("config/cifar10.yaml").write_text("dataset: {kind: cifar10}\n")
    capsys.readouterr()
    assert cli.main(["summary", str(run)]) == 0
    said = capsys.readouterr().out
    lines = said.splitlines()
    assert "RUN_FOLDER" not in said
    assert "Report: snakemake --configfile config/cifar10.yaml --report results/cifar10/report.html" in lines
    assert "  results/cifar10/figures/figure2_top.{png,pdf}" in lines
    assert "  results/cifar10/figures/figure3.png" in lines and "figure3.pdf" not in said
    assert "Compare with another run: python -m transferability compare results/cifar10 OTHER_RUN --out comparison" in lines
    too_wide = [line for line in lines if len(line) > 110]
    assert not too_wide, too_wide


def test_summary_prints_the_report_command_its_run_recorded(nets, tmp_path, monkeypatch, capsys):  # noqa: F811
    """A run's end records its config files beside its outputs: a run whose config file is named neither
    config/<run>.yaml nor <run>.yaml still gets a report command to paste; one that recorded nothing and
    whose config file is not found says so, not a placeholder that looks like a path."""
    monkeypatch.chdir(tmp_path)
    run = Path("results/mine")
    written_tables(nets, run / "tables")
    capsys.readouterr()
    assert cli.main(["summary", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    report = lines.index("Report: snakemake --configfile CONFIG --report results/mine/report.html")
    assert lines[report + 1] == "  CONFIG: the config file of run mine (none recorded; not found as config/mine.yaml or mine.yaml)"
    summary.record_report_command(run, [tmp_path / "elsewhere/mine.yaml"])
    assert cli.main(["summary", str(run)]) == 0
    assert "Report: snakemake --configfile elsewhere/mine.yaml --report results/mine/report.html" in (
        capsys.readouterr().out.splitlines())


def test_a_command_wider_than_a_line_is_broken_where_a_shell_still_reads_it_as_one():
    command = summary.report_command("/scratch/a-long-project-folder/results/cifar10",
                                     ["/home/someone/experiments/transfer/configs/cifar10-with-many-seeds.yaml"])
    lines = summary.command_lines("Report", command)
    assert lines[0] == "Report:" and all(len(line) <= summary.WIDTH for line in lines), lines
    assert shlex.split("\n".join(lines[1:]).replace("\\\n", " ")) == shlex.split(command)


def test_a_failed_job_without_a_log_to_read_says_so(tmp_path):
    (tmp_path / "empty.log").write_text("\n")
    jobs = [("collect_results", {}, [str(tmp_path / "missing.log")]), ("draw_figure", {"figure": "figure3"},
                                                                       [str(tmp_path / "empty.log")])]
    assert summary.failed_job_lines(jobs) == [
        "2 jobs failed (each: its log's last line, then its log):",
        "  collect_results:", "      (no log written: the job failed before its command ran)",
        f"      log: {tmp_path / 'missing.log'}",
        "  draw_figure (figure=figure3):", "      (its log is empty)", f"      log: {tmp_path / 'empty.log'}"]
    assert summary.failed_job_lines([]) == []


def test_help_shows_the_commands_for_a_runs_results_first_and_the_rules_commands_apart(capsys, monkeypatch):
    """`python -m transferability --help`, as a new user types it: summary and compare (and how to build the
    report) on its first screen, with examples; the commands the workflow's rules run named apart, after."""
    monkeypatch.setenv("COLUMNS", "110")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    said = capsys.readouterr().out
    lines = said.splitlines()
    assert all(len(line) <= 110 for line in lines), [line for line in lines if len(line) > 110]
    listed = [m[1] for line in lines if (m := re.match(r" {2,}([a-z][a-z-]+) {2,}\S", line))]
    assert listed == ["summary", "compare"], lines
    assert "python -m transferability summary results/default" in said
    assert "snakemake --report results/default/report.html" in said
    rules = said[said.index("The workflow's rules run"):]
    for command in ("cache-data", "train", "summarize", "figure", "layer-measures"):
        assert command in rules and command not in said[:said.index("The workflow's rules run")].split(), command
    assert len(said[:said.index("The workflow's rules run")].splitlines()) <= 24, "the first screen"
