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
    """A hash of the code behind `python -m transferability <command>`: its function in cli.py, the cli
    helpers and constants it uses, and the package modules they import, with every package module those
    import and the package's data files they name (analysis: the paper's values). A param of the rules that
    run it, so that an edited or upgraded command, module or data file reruns the tables and figures it
    computes (Snakemake sees a shell rule's command, not the code it runs). Training,
    the data cache and the splits get none on purpose: they are hours of work whose inputs their settings
    name exactly, and a change to their code keeps the bits (the tests check it) or says so in its settings."""
    sources, todo = _command_code(command.replace("-", "_"))
    data_files = [path for path in sorted(PACKAGE_DIR.rglob("*"))
                  if path.is_file() and path.suffix not in (".py", ".pyc")]
    while todo:
        name = todo.pop()
        if name not in sources:
            sources[name] = (PACKAGE_DIR / f"{name}.py").read_text()
            imports, strings = _module_references(sources[name])
            todo += [module for module in imports if (PACKAGE_DIR / f"{module}.py").exists()]
            for path in (path for path in data_files if path.name in strings):  # e.g. the paper's values
                sources[f"data:{path.relative_to(PACKAGE_DIR).as_posix()}"] = path.read_bytes().decode("latin-1")
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(f"{name}\0{sources[name]}\0".encode())
    return digest.hexdigest()[:16]


def _command_code(command: str) -> tuple[dict, list]:
    """({"cli.<name>": source} of the command's function and of the cli-level names it uses, transitively;
    the package modules they import or name)."""
    source = (PACKAGE_DIR / "cli.py").read_text()
    defined, imported = {}, {}  # cli-level names: their statements; names imported from the package: modules
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, ast.Assign):
            defined.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            imported.update({alias.asname or alias.name: node.module or alias.name for alias in node.names})
    sources, modules, todo = {}, [], [command]
    while todo:
        name = todo.pop()
        if f"cli.{name}" not in sources:
            node = defined[name]
            used = _names_read(node)
            decorators = "".join(f"@{ast.get_source_segment(source, d)}\n" for d in getattr(node, "decorator_list", []))
            sources[f"cli.{name}"] = decorators + ast.get_source_segment(source, node)  # the segment starts at def
            modules += _package_imports(node) + [imported[n] for n in sorted(used & imported.keys())]
            todo += sorted(used & defined.keys())
    return sources, modules


def _names_read(node: ast.AST) -> set[str]:
    """The names a cli-level statement uses, less the local variables of a function (summarize's `summary` is
    not the summary command). A name bound in a nested scope (a comprehension's variable, a lambda's, an inner
    function's) is not the function's own, so it still counts: more code hashed, never less."""
    names = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
    if not isinstance(node, ast.FunctionDef):
        return {n.id for n in names}
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.comprehension)
    not_own = {id(n) for scope in ast.walk(node) if scope is not node and isinstance(scope, nested)
               for n in ast.walk(scope)}
    declared_global = {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}
    local = {n.id for n in names if isinstance(n.ctx, ast.Store) and id(n) not in not_own} - declared_global
    return {n.id for n in names} - local


@functools.cache
def _module_references(source: str) -> tuple[list[str], set[str]]:
    """(the package modules a module's source imports, its string constants: a data file of the package it
    reads is named by one). Cached by source: each module is parsed once per Snakefile parse, not per command."""
    tree = ast.parse(source)
    return _package_imports(tree), {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                                    and isinstance(n.value, str)}


def _package_imports(tree: ast.AST) -> list[str]:
    """The package's own modules imported in `tree`: `from . import a, b` and `from .c import d`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found += [node.module] if node.module else [alias.name for alias in node.names]
    return found
