"""Files on disk: written atomically, read back as JSON, hashed.

A killed job leaves either the old files, the new files, or nothing — never a half-written file that a later
run would take for finished. The one helper behind the data cache (data.build_cache), the checkpoints
(checkpoint.save) and every output (atomic_path, write_json)."""

import functools
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


_UMASK = os.umask(0)
os.umask(_UMASK)


class AtomicFiles:
    """Temporary files in one folder, each renamed onto its final name only if the `with` block succeeds:
    then each is fsynced, renamed in the order they were made (so the last one made can vouch for the
    others), and the folder fsynced (the renames themselves durable). If the block fails they are removed."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.temps: dict[str, Path] = {}  # final name -> temporary path, in commit order
        self.keep_old: dict[str, str] = {}  # final name -> the name its former file is kept as

    def new(self, final_name: str, keep_old_as: str | None = None) -> Path:
        """A fresh empty temporary file for `final_name`; with keep_old_as, a former file of that name is
        renamed to keep_old_as just before the new one takes its place."""
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=f".{final_name}.", suffix=".tmp")
        os.close(fd)
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make results unreadable to a group
        self.temps[final_name] = Path(temp)
        if keep_old_as:
            self.keep_old[final_name] = keep_old_as
        return Path(temp)

    def temp_of(self, final_name: str) -> Path:
        return self.temps[final_name]

    def __enter__(self) -> "AtomicFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            for temp in self.temps.values():
                temp.unlink(missing_ok=True)  # only those not renamed: after a failure, all of them

    def _commit(self) -> None:
        for temp in self.temps.values():
            with open(temp, "rb+") as f:
                os.fsync(f.fileno())
        for final_name, temp in self.temps.items():
            final = self.folder / final_name
            if final_name in self.keep_old and final.exists():
                final.replace(self.folder / self.keep_old[final_name])
            os.replace(temp, final)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_path(path, keep_old_as: str | None = None):
    """Yield a temporary path beside `path`; if the block succeeds it becomes `path` (see AtomicFiles)."""
    path = Path(path)
    with AtomicFiles(path.parent) as files:
        yield files.new(path.name, keep_old_as)


def write_json(path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def file_sha256(path) -> str:
    """The file's sha256, read once per process while its size and modification time stay the same (the
    Snakefile asks for a pretrained source's once per net)."""
    stat = os.stat(path)
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()
