"""One locked environment: what is installed is envs/lock.txt, and every file that installs packages uses it."""

import platform
from pathlib import Path
import sys

import pytest
import yaml

from conftest import ROOT
from transferability import environment
from transferability.environment import differences, installed, normalised, read_lock

LOCK = ROOT / "envs/lock.txt"


def test_the_installed_packages_are_the_locks_versions():
    """A new upstream release of any package (direct or not) cannot change what `make setup` installs: it
    installs the lock's versions, and this fails on one package that differs (`make setup` puts it back)."""
    assert differences(read_lock(LOCK), installed()) == []


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
                    reason="the lock is resolved on Linux x86_64; other platforms install a subset of it")
def test_every_locked_package_is_installed_on_the_locks_platform():
    assert sorted(read_lock(LOCK).keys() - installed().keys()) == []


def test_a_package_that_differs_from_the_lock_is_named_with_both_versions():
    lock = {"platformdirs": "4.14.8", "torch": "2.14.1"}
    assert differences(lock, {"platformdirs": "4.14.9", "torch": "2.14.1", "extra": "1.0"}) == [
        "extra 1.0 not locked", "platformdirs 4.14.9 installed, 4.14.8 locked"]
    assert differences(lock, {"torch": "2.14.1"}) == []  # a subset (another platform) agrees


def requirement_pins() -> dict[str, str]:
    lines = (ROOT / "envs/requirements.txt").read_text().splitlines()
    pins = (line.split("#")[0].strip() for line in lines)
    return {normalised(name): version for name, version in (pin.split("==") for pin in pins if pin)}


def test_the_lock_holds_every_direct_requirement_at_its_pin():
    lock = read_lock(LOCK)
    assert {name: lock.get(name) for name in requirement_pins()} == requirement_pins()


def test_the_conda_env_file_lists_the_locks_pins():
    """Snakemake copies the env file before conda reads it: a `-r` or `-c` of a file beside it is not there."""
    env = yaml.safe_load((ROOT / "envs/environment.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert not [line for line in pip if line.startswith("-")], pip  # no -r, -c, -e or other pip options
    assert {normalised(name): version for name, version in (pin.split("==") for pin in pip)} == read_lock(LOCK)
    assert "python=3.11" in env["dependencies"]  # pyproject: requires-python >= 3.11


def test_the_device_kit_downloads_locked_packages():
    """benchmarks/device_wheels.txt names what an offline GPU machine lacks; `make device-kit` takes their
    versions from the lock (pip -c), so each must be in it, and the kit must carry snakemake and jsonschema."""
    lines = (ROOT / "benchmarks/device_wheels.txt").read_text().splitlines()
    kit = {normalised(line) for line in lines if line and not line.startswith("#")}
    assert {"snakemake", "jsonschema"} <= kit and sorted(kit - read_lock(LOCK).keys()) == []
    assert "-c envs/lock.txt" in (ROOT / "Makefile").read_text().split("device-kit: data")[1].split("\n\n")[0]


def test_a_nets_provenance_records_the_lock_and_how_the_environment_differs(monkeypatch):
    record = environment.lock_record()
    assert len(record["lock_sha256"]) == 64 and record["unlocked"] == []
    monkeypatch.setattr(environment, "installed", lambda: {**installed(), "torch": "0.0.1"})
    assert environment.lock_record()["unlocked"] == [f"torch 0.0.1 installed, {read_lock(LOCK)['torch']} locked"]


def test_packages_vendored_inside_setuptools_are_not_installed_packages(monkeypatch):
    """Importing setuptools (torch's cpp_extension does) puts its _vendor folder on sys.path, and importlib
    then sees the copies of autocommand, jaraco.* and others it carries: a net trained in such a process
    recorded them as unlocked packages, and this file's tests failed after another test imported it."""
    import setuptools

    monkeypatch.syspath_prepend(str(Path(setuptools.__file__).parent / "_vendor"))
    assert differences(read_lock(LOCK), installed()) == []
