"""The package's shape: its modules import each other without a circle, and nothing edits sys.modules."""

import ast

from conftest import ROOT
from transferability import provenance

PACKAGE = ROOT / "workflow/transferability"


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


def import_graph() -> dict[str, set[str]]:
    """Each package module -> the package modules it imports. Lazy imports inside functions count: they are
    dependencies too (commands/ imports its modules lazily), and so do the command modules that
    commands/__init__.py imports by name (`commands.load`, when the command line is parsed)."""
    modules = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")]
    graph = {module: set(provenance.package_imports(module, ast.parse((PACKAGE / module).read_text())))
             for module in modules}
    graph["commands/__init__.py"] |= {module for module in modules if module.startswith("commands/")} - {
        "commands/__init__.py"}
    return graph


def test_the_package_has_no_import_circle():
    graph = import_graph()
    assert "commands/figure.py" in graph and "plots.py" in graph["commands/figure.py"]
    assert "commands/warm_server.py" in graph["commands/__init__.py"]
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
    empty = analysis.paper_nets().iloc[:0]
    assert tuple(analysis.summarize(empty)) == outputs.SUMMARY_TABLES


def long_functions(source: str, limit: int) -> list[str]:
    """The functions of a module's source longer than `limit` lines, with their lengths."""
    return [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= limit]


def test_no_function_of_the_package_is_over_50_lines():
    found = {path.relative_to(PACKAGE).as_posix(): long for path in sorted(PACKAGE.rglob("*.py"))
             if (long := long_functions(path.read_text(), 50))}
    assert found == {}


def test_the_length_check_sees_a_long_function():
    assert long_functions("def f():\n" + "    x = 1\n" * 50, 50) == ["f: 51 lines"]
    assert long_functions("def f():\n" + "    x = 1\n" * 49, 50) == []


def test_a_command_is_one_module_with_one_run_function_and_a_help_line():
    """Adding a command is one module of commands/ (and its rule): cli.py names none of them."""
    from transferability import cli, commands

    assert "figure" in commands.names() and "warm-server" in commands.names()
    for name in commands.names():
        module = commands.load(name)
        assert callable(module.run) and module.__doc__.splitlines()[0], name
        assert f'"{name}"' not in (PACKAGE / "cli.py").read_text(), name  # cli.py does not list it
    assert cli.parser().parse_args(["figure", "figure3", "--nets", "n.csv", "--tables", "f.csv", "--out", "x.png"]).run \
        is commands.load("figure").run


def test_every_module_opens_with_the_one_job_it_does():
    """Every module's first line is a docstring saying its job (the executor plugin's modules too)."""
    modules = [*PACKAGE.rglob("*.py"), *(ROOT / "workflow/snakemake_executor_plugin_slurm_watched").rglob("*.py")]
    undocumented = [str(path.relative_to(ROOT)) for path in sorted(modules)
                    if not (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
                    or not path.read_text().startswith('"""')]
    assert undocumented == []
