"""The installed Python packages against envs/lock.txt, the versions the workflow is tested with."""

import hashlib
import importlib.metadata
import re
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parents[2] / "envs/lock.txt"
NOT_LOCKED = {"pip", "setuptools", "wheel", "transferability"}  # the venv's own tools, and this package


def normalised(name: str) -> str:
    """A distribution's name as PEP 503 compares them (PyYAML = pyyaml, typing_extensions = typing-extensions)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """name -> version of every `name==version` line."""
    pins = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {normalised(name): version for name, version in (pin.split("==") for pin in pins if pin)}


def installed() -> dict[str, str]:
    """name -> version of every distribution this interpreter sees, but the venv's tools and this package, and
    the copies a package carries inside itself (setuptools puts its _vendor folder on sys.path when imported)."""
    paths = [path for path in sys.path if "_vendor" not in Path(path).parts]
    found = {normalised(d.metadata["Name"]): d.version for d in importlib.metadata.distributions(path=paths)}
    return {name: version for name, version in found.items() if name not in NOT_LOCKED}


def differences(lock: dict[str, str], present: dict[str, str]) -> list[str]:
    """How the installed packages differ from the lock: one phrase each (none when they agree). A locked package
    that is not installed is not one: another platform needs fewer (no CUDA libraries on macOS)."""
    return [f"{name} {version} installed, {lock[name]} locked" if name in lock else f"{name} {version} not locked"
            for name, version in sorted(present.items()) if lock.get(name) != version]


def lock_record() -> dict:
    """What a net's metrics.json records of its environment: the lock's sha256 and how the installed packages
    differ from it (an empty list: exactly the lock's versions)."""
    if not LOCK.exists():  # an installed copy of the package, away from its checkout
        return {"lock_sha256": None, "unlocked": sorted(f"{n} {v}" for n, v in installed().items())}
    return {"lock_sha256": hashlib.sha256(LOCK.read_bytes()).hexdigest(),
            "unlocked": differences(read_lock(), installed())}
