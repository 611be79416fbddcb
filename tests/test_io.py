"""The one atomic writer (io.AtomicFiles) behind outputs, checkpoints and the data cache: a failed or killed
write leaves the old file (or none), never a half-written one."""

import os
import signal
import subprocess
import sys

import pytest

from conftest import package_env
from transferability.io import AtomicFiles, atomic_path, write_json


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    write_json(tmp_path / "metrics.json", {"top1": 0.5})
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "metrics.json") as tmp:
        tmp.write_text('{"top1": 0.')
        raise RuntimeError("disk full")
    assert (tmp_path / "metrics.json").read_text() == '{\n  "top1": 0.5\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_files_of_one_block_land_together_in_order_and_the_old_one_can_be_kept(tmp_path):
    (tmp_path / "last.pt").write_text("old")
    with AtomicFiles(tmp_path) as files:
        files.new("last.pt", keep_old_as="previous.pt").write_text("new")
        files.new("meta.json").write_text("{}")
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["last.pt"]
    assert (tmp_path / "last.pt").read_text() == "new" and (tmp_path / "previous.pt").read_text() == "old"
    assert (tmp_path / "meta.json").stat().st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's 0600


def test_a_job_killed_while_writing_leaves_the_old_file(tmp_path):
    target = tmp_path / "weights.safetensors"
    target.write_text("finished weights")
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from transferability.io import atomic_path\n"
         f"with atomic_path({str(target)!r}) as tmp:\n"
         "    tmp.write_text('half of the new weights'); print('writing', flush=True); time.sleep(60)"],
        env=package_env(), stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert target.read_text() == "finished weights"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
