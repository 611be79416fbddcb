"""The command line of `python -m transferability`, built from each command's `run` signature
(transferability/commands/__init__.py): what a rule passes parses, and a bad argument is named."""

import inspect
from pathlib import Path
from typing import Annotated

import pytest

from transferability import cli, commands
from transferability.analysis_unit import AnalysisUnit
from transferability.run_options import RunOptions


def parse(*argv):
    return vars(cli.parser().parse_args([str(arg) for arg in argv]))


def refused(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit:
        parse(*argv)
    assert exit.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


UNIT = ('{"split": "random0", "seed": 0, "data": "d", "split_file": "s.tsv", "nets_dir": "n", '
        '"model": {"preset": "small"}, "max_features": 4096}')
TRAIN = ["train", "--settings", "{}", "--data", "d", "--split", "s.tsv", "--out-dir", "o", "--checkpoint-dir", "c"]


def test_run_options_are_one_typed_object_read_from_json():
    args = parse(*TRAIN, "--run-options", RunOptions(device="cpu", checkpoint_minutes=2).to_json())
    assert args["run_options"] == RunOptions(device="cpu", checkpoint_minutes=2.0)
    assert parse(*TRAIN)["run_options"] == RunOptions()  # the default: auto, epoch checkpoints


@pytest.mark.parametrize("options, named", [('{"device": "gpu"}', "device = 'gpu': must be one of"),
                                            ('{"devise": "cpu"}', "unexpected keyword argument 'devise'"),
                                            ('{"nets_per_gpu": "2"}', "nets_per_gpu = '2': must be a int"),
                                            ('{"compile": 1}', "compile = 1: must be a bool"),
                                            ('{"device": ', "Expecting value")])
def test_a_bad_run_option_is_refused_with_its_name(capsys, options, named):
    said = refused(capsys, *TRAIN, "--run-options", options)
    assert said.startswith("python -m transferability train: error: argument --run-options:") and named in said


def test_an_analysis_unit_is_one_argument(capsys):
    unit = AnalysisUnit(split="random0", seed=0, data="d", split_file="s.tsv", nets_dir="n", model={"preset": "small"},
                        max_features=4096)
    args = parse("probes", "--unit", UNIT, "--images-per-class", 3, "--out", "p.csv")
    assert args["unit"] == unit and args["targets"] == ("A", "B")
    assert "missing 1 required positional argument: 'max_features'" in refused(
        capsys, "probes", "--unit", '{"split": "r", "seed": 0, "data": "d", "split_file": "s", "nets_dir": "n", '
        '"model": {}}', "--images-per-class", 3, "--out", "p.csv")


def test_lists_and_tuples_take_their_counts(capsys):
    figure = ["figure", "figure3", "--nets", "n.csv", "--out", "f.png", "f.pdf", "--tables"]
    assert parse(*figure, "a.csv", "b.csv")["tables"] == [Path("a.csv"), Path("b.csv")]
    assert "expected at least one argument" in refused(capsys, *figure)  # required: one or more
    assert "expected at least one argument" in refused(capsys, "probes", "--unit", UNIT, "--images-per-class", 3,
                                                       "--out", "p.csv", "--targets")  # a default of two: not none
    filters = ["filters", "--model", "{}", "--split-name", "r", "--seed", 0, "--out", "x.png", "--weights"]
    assert "expected 2 arguments" in refused(capsys, *filters, "a.safetensors")
    assert parse("layer-measures", "--nets", "n", "--split-kinds", "{}", "--measures-out", "m", "--correlations-out",
                 "c", "--out", "x")["similarity"] == []  # a list that may be empty: an analysis that is off


def test_a_switch_must_default_to_off():
    def run(*, paper: Annotated[bool, "draw the paper's values"] = True) -> None: ...
    parameter = inspect.signature(run).parameters["paper"]
    with pytest.raises(TypeError, match="its default must be False"):
        commands.argument(parameter, Annotated[bool, "draw the paper's values"])


def test_every_commands_own_help_shows_its_docstring(capsys):
    """Its first line (the rules' commands), or the longer text below it (summary, compare)."""
    for name in commands.names():
        with pytest.raises(SystemExit):
            parse(name, "--help")
        line, _, details = inspect.getdoc(commands.load(name)).partition("\n\n")
        assert (details or line).splitlines()[0] in capsys.readouterr().out, name
