"""The version of the code behind each table and figure command: a hash that the rules pass as a param, so
that an edited or upgraded command, module or package data file reruns what it computes (Snakemake sees a
shell rule's command, not the code it runs)."""

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def code_version(command: str) -> str:
    """A hash of the code behind `python -m transferability <command>`: its module in commands/, the module
    that builds its command line from it (commands/__init__.py), every package module they import (at the top
    or inside a function) and every module those import, and the package's data files these name (analysis:
    the paper's values). A param of the rules that run it, so that an edited or upgraded command, module or
    data file reruns the tables and figures it computes, and an edit to another command reruns nothing of
    this one. Training, the data cache and the splits get none on purpose: they are hours of work whose
    inputs their settings name exactly, and a change to their code keeps the bits (the tests check it) or
    says so in its settings."""
    data_files = [path for path in sorted(PACKAGE_DIR.rglob("*")) if path.is_file()
                  and path.suffix not in (".py", ".pyc")]
    sources, todo = {}, ["commands/__init__.py", f"commands/{command.replace('-', '_')}.py"]
    while todo:
        module = todo.pop()
        if module not in sources:
            sources[module] = (PACKAGE_DIR / module).read_text()
            imports, strings = _module_references(module, sources[module])
            todo += [name for name in imports if (PACKAGE_DIR / name).exists()]
            for path in (path for path in data_files if path.name in strings):  # e.g. the paper's values
                sources[f"data:{path.relative_to(PACKAGE_DIR).as_posix()}"] = path.read_bytes().decode("latin-1")
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(f"{name}\0{sources[name]}\0".encode())
    return digest.hexdigest()[:16]


@functools.cache
def _module_references(module: str, source: str) -> tuple[list[str], set[str]]:
    """(the files of the package modules a module imports, its string constants: a data file of the package
    it reads is named by one). Cached by source: each module is parsed once per Snakefile parse."""
    tree = ast.parse(source)
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return package_imports(module, tree), strings


def package_imports(module: str, tree: ast.AST) -> list[str]:
    """The files of the package's own modules that `module` (a path in the package) imports relatively:
    `from . import a`, `from .b import c`, and from commands/, `from .. import a`, `from ..b import c`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            folder = Path(module).parent
            for _ in range(node.level - 1):
                folder = folder.parent
            names = [node.module] if node.module else [alias.name for alias in node.names]
            paths = [folder / name.replace(".", "/") for name in names]
            found += [(path / "__init__.py" if (PACKAGE_DIR / path).is_dir() else path.with_suffix(".py")).as_posix()
                      for path in paths]  # a subpackage (commands) is its __init__.py
    return found
