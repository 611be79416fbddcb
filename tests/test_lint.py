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


def test_snakemake_lint_has_no_remark_left_unexplained(tmp_path):
    result = subprocess.run([SNAKEMAKE, "--lint", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
                             str(ROOT / "tests/smoke.yaml")], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and ("Lints for" in output or result.returncode == 0), output[-3000:]
    unexplained = [remark for remark in lint_remarks(output) if not justified(remark[0], remark[2])]
    assert not unexplained, "\n".join(f"{path}: {remark}" for path, remark, _ in unexplained)


def test_the_snakemake_files_are_snakefmt_formatted():
    result = subprocess.run([SNAKEFMT, "--check", "--diff", *map(str, SNAKE_FILES)], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
