"""Write envs/lock.txt and envs/environment.yaml: every package the workflow installs, at its exact version.

    make lock        (= python3 envs/lock.py)

Resolves envs/requirements.txt (the direct dependencies) afresh in a throw-away venv, with this machine's
pip and index, and writes what it installed. `make setup` installs envs/requirements.txt constrained to
envs/lock.txt, so two installs a month apart get the same libraries; envs/environment.yaml (the rules'
conda env) lists the same pins; `make device-kit` downloads the lock's versions. Run it after changing
envs/requirements.txt, and commit the three files together (tests/test_environment.py checks them).
"""

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ENVS = Path(__file__).resolve().parent
LOCK_HEADER = """\
# Every package of the workflow's environment at its exact version: written by `make lock` (envs/lock.py)
# from envs/requirements.txt on Linux x86_64, Python {python}; do not edit by hand. `make setup` installs
# requirements.txt constrained to these versions (pip -c: a package another platform does not need is
# simply not installed there), and each net's metrics.json records this file's sha256.
"""
ENV_HEADER = """\
# The rules' conda environment (`snakemake --sdm conda` creates it from a copy of this file) and a
# user's: `conda env create -f envs/environment.yaml && conda activate transferability`, then
# `pip install --no-deps -e .` from the repository root (for profiles/slurm's executor) and run
# `snakemake --cores N`. Jobs import the package from the checkout (PYTHONPATH, set by the workflow).
# Written by `make lock` (envs/lock.py): envs/lock.txt's pins, written out (a copied file cannot `-r` or `-c`
# a file beside it), resolved on Linux x86_64 (torch's CUDA build).
name: transferability
channels:
  - conda-forge
dependencies:
  - python={python}
  - pip
  - pip:
"""


def resolve(requirements: Path) -> list[str]:
    """`pip freeze` of a fresh venv after installing the requirements: name==version lines."""
    with tempfile.TemporaryDirectory(prefix="transferability-lock-") as folder:
        venv.create(folder, with_pip=True)
        pip = [str(Path(folder) / "bin/python"), "-m", "pip"]
        subprocess.run([*pip, "install", "-q", "-r", str(requirements)], check=True)
        frozen = subprocess.run([*pip, "freeze"], check=True, capture_output=True, text=True).stdout
    return sorted((line for line in frozen.splitlines() if "==" in line), key=str.lower)


def main() -> None:
    pins = resolve(ENVS / "requirements.txt")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    (ENVS / "lock.txt").write_text(LOCK_HEADER.format(python=python) + "".join(f"{pin}\n" for pin in pins))
    (ENVS / "environment.yaml").write_text(ENV_HEADER.format(python=python)
                                           + "".join(f"      - {pin}\n" for pin in pins))
    print(f"envs/lock.txt, envs/environment.yaml: {len(pins)} packages")


if __name__ == "__main__":
    main()
