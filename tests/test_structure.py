"""The package's shape: its modules import each other without a circle, and nothing edits sys.modules."""

import ast

from conftest import ROOT

PACKAGE = ROOT / "workflow/transferability"


def package_imports(source: str) -> set[str]:
    """The package modules a module imports, at its top or inside a function (a lazy import is still a
    dependency): `from . import a`, `from .b import c`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
    return found


def import_circles(graph: dict) -> list[list[str]]:
    """Every circle of module imports in `graph` (module -> the modules it imports), each from its first module."""
    circles = []

    def follow(path):
        for module in sorted(graph.get(path[-1], ())):
            if module == path[0]:
                circles.append([*path, module])
            elif module not in path and module > path[0]:  # each circle once, from its smallest module
                follow([*path, module])

    for start in sorted(graph):
        follow([start])
    return circles


def test_the_package_has_no_import_circle():
    graph = {path.stem: package_imports(path.read_text()) for path in PACKAGE.glob("*.py")}
    assert import_circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_code_edits_sys_modules():
    """The workflow imports the checkout's own package by its path, never by purging another's from sys.modules."""
    offenders = [str(path.relative_to(ROOT)) for path in [*ROOT.glob("workflow/**/*.py"), *ROOT.glob("workflow/**/*.smk"),
                                                          ROOT / "Snakefile"]
                 if "sys.modules" in path.read_text()]
    assert offenders == []


def test_the_names_of_tables_and_figures_are_those_the_code_writes_and_draws():
    """outputs.py names them for the command line and the plan without importing pandas or matplotlib."""
    from transferability import analysis, outputs, plots

    assert tuple(plots.FIGURES) == outputs.FIGURES
    assert analysis.SUMMARY_TABLES is outputs.SUMMARY_TABLES
    empty = analysis.paper_nets().iloc[:0]
    assert tuple(analysis.summarize(empty)) == outputs.SUMMARY_TABLES
