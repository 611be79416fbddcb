"""The Snakemake files pass Snakemake's own linter and are formatted by snakefmt (the version pinned in
envs/requirements.txt, `line_length` from pyproject's [tool.snakefmt]). Fix a remark, or, where it is a
false alarm, say why in a comment `# lint: ...` on the line it names or the line above."""

import re
import subprocess
from pathlib import Path

from conftest import ROOT, SNAKEMAKE

SNAKEFMT = str(Path(SNAKEMAKE).with_name("snakefmt"))
SNAKE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]


def lint_remarks(output: str) -> list[tuple[str, str, int | None]]:
    """(file, remark, line) of each remark in `snakemake --lint`'s text output; line None where it names none."""
    remarks, current = [], None
    for line in output.splitlines():
        if found := re.match(r"Lints for snakefile (\S+):", line):
            current = found.group(1)
        elif found := re.match(r"Lints for rule \w+ \(line \d+, (\S+)\):", line):
            current = found.group(1)
        elif (found := re.match(r"    \* (.+?):?$", line)) and current:
            number = re.search(r"\bin line (\d+)", found.group(1))
            remarks.append((current, found.group(1), int(number.group(1)) if number else None))
    return remarks


def justified(path: str, line: int | None) -> bool:
    if line is None:
        return False
    lines = Path(path).read_text().splitlines()
    return any("# lint:" in lines[i] for i in (line - 2, line - 1) if 0 <= i < len(lines))


NO_REMARK = "Congratulations, your workflow is in a good condition!"


def lint(snakefile: Path, workdir: Path, *args: str) -> tuple[str, list[tuple[str, str, int | None]]]:
    """`snakemake --lint`'s output and its remarks, each of which the parser must have read: a change in
    Snakemake's wording would otherwise read as no remark at all."""
    result = subprocess.run([SNAKEMAKE, "--lint", "-s", str(snakefile), "-d", str(workdir), *args],
                            capture_output=True, text=True)
    output = result.stdout + result.stderr
    remarks = lint_remarks(output)
    assert "Traceback" not in output, output[-3000:]
    assert remarks or (result.returncode == 0 and NO_REMARK in output), output[-3000:]
    assert len(remarks) == len(re.findall(r"^    \* ", output, re.M)), output[-3000:]
    return output, remarks


def test_the_remarks_are_read_from_snakemakes_own_lint_output(tmp_path):
    """A Snakefile with three known remarks, one of them explained by a `# lint:` comment."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text('# lint: an example\nDATA = "/absolute/data"\n\n\nrule a:\n    output:\n        "a.txt",\n'
                         '    shell:\n        "echo {DATA} > {output}"\n')
    _, remarks = lint(snakefile, tmp_path)
    by_text = {remark: (path, line) for path, remark, line in remarks}
    assert by_text['Absolute path "/absolute/data" in line 2'] == (str(snakefile), 2)
    assert by_text["No log directive defined"] == (str(snakefile), None)
    assert "Shell command directly uses variable DATA from outside of the rule" in by_text
    assert [justified(path, line) for path, _, line in remarks if line] == [True]


def test_snakemake_lint_has_no_remark_left_unexplained(tmp_path):
    _, remarks = lint(ROOT / "Snakefile", tmp_path, "--configfile", str(ROOT / "tests/smoke.yaml"))
    unexplained = [remark for remark in remarks if not justified(remark[0], remark[2])]
    assert not unexplained, "\n".join(f"{path}: {remark}" for path, remark, _ in unexplained)


def test_the_snakemake_files_are_snakefmt_formatted():
    result = subprocess.run([SNAKEFMT, "--check", "--diff", *map(str, SNAKE_FILES)], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
