"""Deployable like the Snakemake catalog's workflows: the rules' conda env works from a copy of its file,
shell commands run the `python` first on PATH (the env's under --sdm conda, else the interpreter running
Snakemake), and the workflow runs as a module of another workflow (`module ...: snakefile: ...`).
No conda here: what conda would do is checked as far as it can be offline."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SNAKEMAKE

ENV_FILE = ROOT / "envs/environment.yaml"
RULE_FILES = sorted((ROOT / "workflow/rules").glob("*.smk"))


def rule_blocks() -> dict[str, tuple[Path, str]]:
    """Every rule of the workflow's rule files: name -> (file, the rule's text)."""
    blocks = {}
    for path in RULE_FILES:
        for found in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(), re.M):
            blocks[found.group(1)] = (path, found.group(2))
    return blocks


def test_every_rule_with_a_shell_command_names_the_env_and_runs_python_from_path():
    blocks = rule_blocks()
    assert {"train_net", "cache_dataset", "split_classes", "collect_results", "draw_figure"} <= set(blocks)
    for name, (path, text) in blocks.items():
        if "shell:" not in text:
            continue
        conda = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", text)
        assert conda, f"rule {name} names no conda env"
        assert (path.parent / conda.group(1)).resolve() == ENV_FILE, name
        command = text[text.index("shell:"):]
        assert re.search(r"\"python -m transferability ", command), f"rule {name}: {command}"
        assert "{PYTHON}" not in command and "sys.executable" not in command, name


def module_workflow(folder: Path, config: Path) -> Path:
    """Another workflow that uses this one as a module, the way the catalog's deployments do (snakedeploy
    writes the same with `github(...)` for the Snakefile), with a local path: offline."""
    folder.mkdir(parents=True, exist_ok=True)
    snakefile = folder / "Snakefile"
    snakefile.write_text(f'configfile: "{config}"\n\n\n'
                         f'module transferability:\n    snakefile:\n        "{ROOT / "Snakefile"}"\n'
                         '    config:\n        config\n\n\n'
                         'use rule * from transferability\n')
    return snakefile


def bare_env() -> dict:
    """No venv activated, no PYTHONPATH: only the system's folders on PATH (where no `python` with torch is)."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"}


@pytest.mark.parametrize("layout", ["flat", "snakedeploy"])
def test_as_a_module_of_another_workflow_the_dry_run_plans_the_smoke_dag(tmp_path, layout):
    """flat: the other workflow's Snakefile beside its config; snakedeploy: the layout `snakedeploy
    deploy-workflow` writes (workflow/Snakefile reading config/config.yaml, run from the folder above)."""
    user = tmp_path / "user"
    if layout == "flat":
        snakefile = module_workflow(user, ROOT / "tests/smoke.yaml")
    else:
        (user / "config").mkdir(parents=True)
        (user / "config/config.yaml").write_text((ROOT / "tests/smoke.yaml").read_text())
        snakefile = module_workflow(user / "workflow", Path("config/config.yaml"))
    result = subprocess.run([SNAKEMAKE, "-n", "-s", str(snakefile), "-d", str(user)], capture_output=True, text=True,
                            env=bare_env(), cwd=user)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    assert jobs["train_net"] == "30" and jobs["draw_figure"] == "3" and jobs["all"] == "1", jobs  # 2 + freezing


@pytest.mark.slow
def test_as_a_module_with_an_unactivated_venv_a_net_trains(tmp_path):
    """A real run through the module: the venv's snakemake by its path, nothing activated, no PYTHONPATH.
    The jobs' `python` is the venv's (its folder put first on PATH by the workflow) and they import the
    package from this checkout's workflow/ folder, not from wherever the other workflow lies."""
    user = tmp_path / "user"
    snakefile = module_workflow(user, ROOT / "tests/smoke.yaml")
    target = "results/default/nets/random0/seed0/baseA/metrics.json"  # a module run without `run:` is `default`
    result = subprocess.run([SNAKEMAKE, "-s", str(snakefile), "-d", str(user), "--cores", "2", target,
                             "--config", "train={'epochs': 1}"], capture_output=True, text=True, env=bare_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert yaml.safe_load((user / target).read_text())["epochs"] == 1


def snakemake_commands(text: str) -> set[str]:
    """The `snakemake ...` command lines of a text (comment lines' too), each preset's path made generic."""
    lines = [re.sub(r"^#\s*", "", line).split("  #")[0].strip() for line in text.splitlines()]
    return {re.sub(r"config/\w+\.yaml", "config/PRESET.yaml", line) for line in lines if line.startswith("snakemake ")}


@pytest.mark.parametrize("preset", sorted(path.name for path in (ROOT / "config").glob("*.yaml")))
def test_a_presets_header_gives_the_command_the_readme_gives(preset):
    """config/imagenet.yaml said `--profile profiles/slurm`, which the README warns against (profiles/default's
    keys would win): a header's command must be one the README gives."""
    header = "\n".join(line for line in (ROOT / "config" / preset).read_text().splitlines() if line.startswith("#"))
    commands = snakemake_commands(header)
    assert commands and commands <= snakemake_commands((ROOT / "README.md").read_text()), commands
