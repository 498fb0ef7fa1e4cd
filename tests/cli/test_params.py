"""One declaration per command: flags, keyword arguments and CLI words in errors."""

from __future__ import annotations

import argparse
import inspect

import pytest

from skmedtl.cli._params import REQUIRED, Param, add_params, kwargs_from, to_cli_words
from skmedtl.cli.demo import DEMO_PARAMS
from skmedtl.cli.extract import FEATURES_PARAMS
from skmedtl.cli.study import DATA_PARAMS, STUDY_PARAMS


def _defaults(params) -> dict:
    """The keyword values of a table when no flag is given (required ones left out)."""
    parser = argparse.ArgumentParser()
    add_params(parser, [p for p in params if not p.required])
    args = parser.parse_args([])
    return kwargs_from(args, [p for p in params if not p.required])


def _signature(func) -> dict:
    return {
        name: (REQUIRED if p.default is inspect.Parameter.empty else p.default)
        for name, p in inspect.signature(func).parameters.items()
    }


def test_study_table_is_transferstudy_signature_with_its_defaults():
    from skmedtl.study import TransferStudy

    signature = _signature(TransferStudy)
    assert [p.name for p in STUDY_PARAMS] == list(signature)
    for p in STUDY_PARAMS:
        assert p.required == (signature[p.name] is REQUIRED), p.name
    assert _defaults(STUDY_PARAMS) == {
        k: v for k, v in signature.items() if v is not REQUIRED
    }


def test_extract_table_is_cnnfeatures_parameters_with_their_defaults():
    from skmedtl.features import CNNFeatures

    signature = _signature(CNNFeatures)
    names = [p.name for p in FEATURES_PARAMS]
    assert set(names) <= set(signature) and len(set(names)) == len(names)
    defaults = _defaults(FEATURES_PARAMS)
    # Deliberate: the command line sizes batches to memory, and seeds random
    # weights reproducibly.
    assert defaults.pop("batch_size") == "auto"
    assert defaults.pop("random_state") == 0
    for name, value in defaults.items():
        assert value == signature[name], name


def test_demo_table_is_make_demo_study_signature():
    from skmedtl._demo import make_demo_study

    signature = _signature(make_demo_study)
    assert {p.name for p in DEMO_PARAMS} == set(signature)
    assert _defaults(DEMO_PARAMS) == signature


def test_choices_are_the_library_constants():
    from skmedtl._constants import (
        BACKENDS,
        COST_MEASURES,
        ON_ERROR,
        PRECISIONS,
        SELECTION_METRICS,
    )
    from skmedtl.study._choices import COSTS

    assert tuple(COSTS) == COST_MEASURES  # the torch- and numpy-free copy
    from skmedtl._constants import SALIENCY_METHODS
    from skmedtl.explain._saliency import METHODS

    assert SALIENCY_METHODS == METHODS

    parser = argparse.ArgumentParser()
    add_params(parser, [*FEATURES_PARAMS, *DATA_PARAMS])
    for flag, values in [("--precision", PRECISIONS), ("--backend", BACKENDS),
                         ("--on-error", ON_ERROR)]:
        for v in values:
            assert parser.parse_args([flag, v, "--cache", "c.h5"])
        with pytest.raises(SystemExit):
            parser.parse_args([flag, "nope", "--cache", "c.h5"])
    study = argparse.ArgumentParser()
    add_params(study, STUDY_PARAMS)
    for flag, values in [("--metric", SELECTION_METRICS), ("--cost", COSTS)]:
        for v in values:
            args = study.parse_args(["--dataset", "d", "--out", "o", flag, v])
            assert kwargs_from(args, STUDY_PARAMS)[flag[2:]] == v


def test_flags_become_keyword_arguments():
    parser = argparse.ArgumentParser()
    add_params(parser, STUDY_PARAMS)
    args = parser.parse_args(
        ["--dataset", "d", "--out", "o", "--keep-going", "-q", "--lrs", "1e-3,1e-4",
         "--weights", "none", "--cache", "c.h5", "--positive", "malignant",
         "--threads", "2", "--input-size", "native", "--backbones", "a, b"]
    )
    kwargs = kwargs_from(args, STUDY_PARAMS)
    assert kwargs["dataset"] == "d" and kwargs["out_dir"] == "o"
    assert kwargs["on_error"] == "skip" and kwargs["verbose"] == 0
    assert kwargs["lrs"] == [1e-3, 1e-4] and kwargs["weights"] is None
    assert kwargs["cache_path"] == "c.h5" and kwargs["pos_label"] == "malignant"
    assert kwargs["n_threads"] == 2 and kwargs["input_size"] == "native"
    assert kwargs["backbones"] == ["a", "b"]


def test_typos_in_choices_suggest_the_right_word(capsys):
    parser = argparse.ArgumentParser()
    add_params(parser, STUDY_PARAMS)
    with pytest.raises(SystemExit):
        parser.parse_args(["--dataset", "d", "--out", "o", "--profile", "quik"])
    err = capsys.readouterr().err
    assert "Did you mean 'quick'" in err and "--profile" in err


FLAGS = {p.name: p for p in [*STUDY_PARAMS, *DATA_PARAMS]}


@pytest.mark.parametrize(
    ("python", "cli"),
    [
        ("Remove it, pass extensions=[...] to read only some suffixes, or "
         "on_error='skip'.",
         "Remove it, pass --extensions EXT,EXT to read only some suffixes, or "
         "--on-error skip."),
        ("use weights=None (random) or another backbone.",
         "use --weights none (random) or another backbone."),
        ("batch_size must be an integer >= 1; got 0.",
         "--batch-size must be an integer >= 1; got 0."),
        ("pos_label 'x' is not a class", "--positive 'x' is not a class"),
        ("lrs must be positive numbers", "--lrs must be positive numbers"),
        ("groups / groups_csv apply to folders", "--groups / --groups-csv apply to "
         "folders"),
        ("cache_path=\"/a/b.h5\"", "--cache /a/b.h5"),
        ("extensions=['.png', '.dcm']", "--extensions .png,.dcm"),
    ],
)
def test_python_options_in_messages_become_flags(python, cli):
    assert to_cli_words(python, FLAGS) == cli


@pytest.mark.parametrize(
    "text",
    [
        "Cannot read /data/batch_size/x.png: truncated",  # a path
        "model.batch_size is set",  # an attribute
        "the groups of patients overlap",  # a plain word in a sentence
        "n_bootstraps_total=3",  # a longer name
        "on_error_policy='skip'",
    ],
)
def test_words_that_are_not_parameters_stay(text):
    assert to_cli_words(text, FLAGS) == text


def test_flags_without_a_value_and_string_flags():
    message = "Nothing selected to prune: give namespace names, backbone=, " \
              "older_than= or all_namespaces=True."
    flags = {"backbone": "--backbone", "older_than": "--older-than",
             "all_namespaces": "--all"}
    assert to_cli_words(message, flags) == (
        "Nothing selected to prune: give namespace names, --backbone, "
        "--older-than or --all."
    )


def test_param_dest_and_required():
    p = Param("cache_path", "--cache", help="h", default=REQUIRED)
    assert p.dest == "cache" and p.required
    assert not Param("x", "--x-y", help="h").required
    assert Param("x", "--x-y", help="h").dest == "x_y"


def test_every_command_declares_its_flags_in_param_tables():
    """No raw add_argument in a command: each flag is a row of a Param table,
    found in the command's ``flags`` (which main() uses for its messages)."""
    import argparse

    from skmedtl.cli import build_parser

    global_dests = {"help", "verbose", "debug", "version", "command",
                    "cache_command"}

    def walk(parser, name):
        actions = parser._actions
        subs = [a for a in actions if isinstance(a, argparse._SubParsersAction)]
        for sub in subs:
            for child_name, child in sub.choices.items():
                yield from walk(child, f"{name} {child_name}")
        if not subs and name != "skmedtl":
            yield name, parser

    commands = dict(walk(build_parser(), "skmedtl"))
    assert {"skmedtl study", "skmedtl predict", "skmedtl explain",
            "skmedtl cache prune", "skmedtl backbones"} <= set(commands)
    import importlib

    from skmedtl.cli import COMMANDS
    from skmedtl.cli._params import Param

    declared = set()  # every Param of every table of the command modules
    for module in ["_common", *COMMANDS]:
        for value in vars(importlib.import_module(f"skmedtl.cli.{module}")).values():
            rows = value if isinstance(value, list) else [value]
            declared |= {p.dest for p in rows if isinstance(p, Param)}
    for name, parser in commands.items():
        assert parser.get_default("flags"), name
        for action in parser._actions:
            if action.dest in global_dests:
                continue
            assert action.dest in declared, (name, action.option_strings or
                                              action.dest)


@pytest.mark.parametrize(
    ("python", "cli"),
    [
        ("train_sizes (--train-sizes) must be positive numbers; got '0'.",
         "--train-sizes must be positive numbers; got '0'."),
        ("train_sizes (--train-sizes) lists 5 twice.", "--train-sizes lists 5 twice."),
        ("external (--external): 'x' does not exist",
         "--external: 'x' does not exist"),
        ("annotations (--annotations) 'a.csv' is inside --out",
         "--annotations 'a.csv' is inside --out"),
    ],
)
def test_a_keyword_with_its_flag_beside_it_reads_as_the_flag_once(python, cli):
    assert to_cli_words(python, FLAGS) == cli


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--train-sizes", "0,5", "error: --train-sizes must be positive numbers"),
        ("--train-sizes", "5,5", "error: --train-sizes lists 5 twice"),
        ("--external", "no-such-set", "error: --external: 'no-such-set' does not"),
        ("--lrs", "-1", "error: --lrs must be positive numbers"),
        ("--margin", "3", "error: --margin must be a number in [0, 1)"),
    ],
)
def test_study_errors_name_each_flag_once(tmp_path, capsys, flag, value, expected):
    from skmedtl.cli import main

    argv = ["study", "--dataset", "breastmnist", "--out", tmp_path / "out",
            flag, value, "--dry-run"]
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert f"({flag})" not in err and err.count(flag) == 1


@pytest.mark.parametrize("flag", ["--patch-size", "--stride"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_explain_pixel_flags_take_the_positive_integer_parser(capsys, flag, value):
    from skmedtl.cli import main
    from skmedtl.cli._params import positive_int

    with pytest.raises(SystemExit) as exit_:  # argparse's usage error
        main(["explain", "--model", "m", "--images", "i.png", "--out", "o", flag,
              value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected a positive integer; got '{value}'" in err
    assert positive_int("7") == 7
