"""The commands of `python -m transferability`, one module each: its docstring is its help and its `run`
function's signature is its command line, so a command is declared once (argparse is built here from it).

A parameter before `*` is positional, one after it an --option (required where it has no default);
`Annotated[type, "help"]` gives its help; `bool` is a switch; `list[...]` takes one or more values (any number
where it has a default); `Literal[...]` names its choices; `dict` and a dataclass are read from JSON.
A module sets `WARM = True` when its command needs torch (a local run hands it to its warm server, warm.py)
and `LISTED = <position>` when a user runs it on a run's results (the main --help lists those first).

Hand-written over a library on purpose: these 60 lines over the standard library's argparse do what
jsonargparse 4.53 or typer 0.29 would, and either would add locked packages and start time to each job
(0.08 s and 0.04 s more per `python -c "import ..."` than argparse: docs/internals.md).
"""

import argparse
import dataclasses
import importlib
import inspect
import json
import pkgutil
import types
import typing


def names() -> list[str]:
    """Every command's name on the command line: the module cache_data is the command cache-data."""
    return sorted(module.name.replace("_", "-") for module in pkgutil.iter_modules(__path__))


def load(name: str) -> types.ModuleType:
    """A command's module; its heavy imports (torch, pandas, matplotlib) wait inside its `run`."""
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def add_parser(subparsers, name: str, listed: bool) -> argparse.ArgumentParser:
    """The command's parser, from its module; `listed`: named with its help in the main --help."""
    command = load(name)
    summary, _, details = inspect.getdoc(command).partition("\n\n")
    help_line = {"help": summary} if listed else {}
    parser = subparsers.add_parser(name, description=details or summary, **help_line,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(command.run, include_extras=True)
    for parameter in inspect.signature(command.run).parameters.values():
        flags, options = argument(parameter, hints[parameter.name])
        parser.add_argument(*flags, **options)
    parser.set_defaults(run=command.run)
    return parser


def argument(parameter: inspect.Parameter, hint) -> tuple[list[str], dict]:
    """add_argument's flags and options for one parameter of a command's `run`."""
    kind, options = hint, {}
    if typing.get_origin(kind) is typing.Annotated:
        kind, options["help"] = kind.__origin__, kind.__metadata__[0]
    if type(None) in typing.get_args(kind):  # `int | None`: an int, or the default None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    required = parameter.default is inspect.Parameter.empty
    if not required:
        options["default"] = parameter.default
    if typing.get_origin(kind) is list:  # one or more; any number only where the default is empty
        kind, options["nargs"] = typing.get_args(kind)[0], "+" if required or parameter.default else "*"
    elif typing.get_origin(kind) is tuple:  # exactly as many as the tuple's types (all of one type)
        kind, options["nargs"] = typing.get_args(kind)[0], len(typing.get_args(kind))
    elif parameter.kind is not parameter.KEYWORD_ONLY and not required:
        options["nargs"] = "?"
    if typing.get_origin(kind) is typing.Literal:
        kind, options["choices"] = str, typing.get_args(kind)
    if kind is bool:
        if parameter.default is not False:
            raise TypeError(f"{parameter.name}: a switch (bool) is off unless given: its default must be False")
        options["action"] = "store_true"
    else:
        options["type"] = from_json(kind) if kind is dict or dataclasses.is_dataclass(kind) else kind
    if parameter.kind is not parameter.KEYWORD_ONLY:
        return [parameter.name], options
    return [f"--{parameter.name.replace('_', '-')}"], {**options, **({"required": True} if required else {})}


def from_json(kind):
    """argparse's `type` for a JSON argument: a dict, or the dataclass built from its fields."""
    def parse(text: str):
        try:
            value = json.loads(text)
            return value if kind is dict else kind(**value)
        except (json.JSONDecodeError, TypeError, ValueError) as error:  # argparse shows this message alone
            raise argparse.ArgumentTypeError(f"{text!r} is not JSON for {kind.__name__}: {error}") from None
    parse.__name__ = f"JSON {kind.__name__}"  # argparse's error names it: "invalid JSON RunOptions value"
    return parse
