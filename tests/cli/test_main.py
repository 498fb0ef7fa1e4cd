"""The command line: entry point, errors, the review's Table 1 and the offline demo."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

from skmedtl.cli import (
    COMMANDS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    build_parser,
    main,
)


def _row(output: str, name: str) -> list[str]:
    line = next(li for li in output.splitlines() if li.startswith(name + " "))
    return line.split()


def test_backbones_prints_table_1_from_the_real_modules(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    resnet50 = _row(out, "resnet50")
    assert resnet50[1:4] == ["2015", "25.6", "23.5"]
    assert _row(out, "vgg16")[3] == "14.7"
    assert _row(out, "inception_v3")[2:4] == ["23.8", "21.8"]
    assert "FE params (M)" in out


def test_backbones_pattern_filters(capsys):
    assert main(["backbones", "densenet*"]) == 0
    out = capsys.readouterr().out
    assert "densenet121" in out and "resnet50" not in out


@pytest.mark.slow
def test_demo_runs_the_study_offline_and_reports_accuracy_and_auc(capsys, tmp_path):
    # The demo is `skmedtl study --dataset breastmnist --profile quick`; one
    # approach keeps this test short (real pretrained features, 780 images).
    out_dir = tmp_path / "demo"
    assert main(["demo", "--quiet", "--out", str(out_dir),
                 "--approaches", "hybrid-svm"]) == 0
    out = capsys.readouterr().out
    row = re.search(
        r"^\*?\s*efficientnet_lite0\s+hybrid-svm\s+[\d.]+\s+([\d.]+) \[[\d., ]+\]\s+"
        r"([\d.]+) ",
        out, flags=re.MULTILINE,
    )
    accuracy, auc = float(row.group(1)), float(row.group(2))
    # Real ImageNet features separate BreastMNIST far better than chance
    # (about 0.82 / 0.84 on this CPU); random features would sit near 0.5 AUC.
    assert 0.7 < accuracy <= 1.0
    assert 0.7 < auc <= 1.0
    assert "546" in out and "156" in out  # the official train / test split
    assert "selected on validation (auc): efficientnet_lite0 / hybrid-svm" in out
    assert (out_dir / "report.html").exists() and (out_dir / "results.csv").exists()
    # The selected model is saved, and the report shows where it looks.
    assert (out_dir / "model" / "manifest.json").exists()
    assert (out_dir / "figures" / "explanations.png").exists()


def test_user_errors_give_a_message_and_exit_code_not_a_traceback(capsys, tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--backbone", "resnet5", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skmedtl demo: error: ")
    assert "Did you mean 'resnet50'" in err and "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_console_script_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "skmedtl.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("skmedtl ")


@pytest.mark.parametrize("command", [*COMMANDS, "cache info", "cache prune"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([*command.split(), "--help"])
    assert e.value.code == 0
    assert f"usage: skmedtl {command} " in capsys.readouterr().out


def test_help_and_every_command_help_start_without_torch():
    """`skmedtl --help` must stay fast: no PyTorch, scikit-learn or NumPy."""
    code = (
        "import sys\n"
        "from skmedtl.cli import COMMANDS, build_parser\n"
        "parser = build_parser()\n"
        "parser.format_help()\n"
        "for c in COMMANDS:\n"
        "    try:\n"
        "        parser.parse_args([c, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'sklearn', 'numpy', 'timm')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in result.stderr


def test_a_command_is_one_module_with_add_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
    for name in COMMANDS:
        module = importlib.import_module(f"skmedtl.cli.{name}")
        assert callable(module.add_parser)


def _failing(monkeypatch, error):
    """`skmedtl backbones` raising ``error``."""
    from skmedtl.cli import backbones

    def run(args):
        raise error

    monkeypatch.setattr(backbones, "run", run)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        TypeError("bad type"),
        FileNotFoundError("no such file"),
        ImportError('needs XGBoost: pip install "skmedtl[xgboost]"'),
        PermissionError("permission denied"),
    ],
)
def test_user_errors_exit_2_with_one_line(monkeypatch, capsys, error):
    _failing(monkeypatch, error)
    assert main(["backbones"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == f"skmedtl backbones: error: {error}\n"


def test_runtime_failures_exit_1_and_bugs_keep_their_traceback(monkeypatch, capsys):
    _failing(monkeypatch, RuntimeError("CUDA out of memory"))
    assert main(["backbones"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "CUDA out of memory" in err and "--debug" in err
    _failing(monkeypatch, KeyError("a bug"))
    with pytest.raises(KeyError):
        main(["backbones"])


def test_debug_shows_the_traceback(monkeypatch):
    _failing(monkeypatch, ValueError("bad value"))
    with pytest.raises(ValueError, match="bad value"):
        main(["--debug", "backbones"])
    with pytest.raises(ValueError, match="bad value"):
        main(["backbones", "--debug"])


def test_interrupt_exits_130(monkeypatch, capsys):
    _failing(monkeypatch, KeyboardInterrupt())
    assert main(["backbones"]) == EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


def test_verbose_after_the_command_is_kept():
    parser = build_parser()
    assert parser.parse_args(["-vv", "backbones"]).verbose == 2
    assert parser.parse_args(["backbones", "-v"]).verbose == 1
    assert parser.parse_args(["backbones"]).verbose == 0


def test_backbones_pattern_without_match_is_an_error(capsys):
    assert main(["backbones", "nosuchnet*"]) == EXIT_USAGE
    assert "No backbone matches 'nosuchnet*'" in capsys.readouterr().err


def test_a_group_command_without_action_prints_its_help(capsys):
    assert main(["cache"]) == EXIT_USAGE
    assert "usage: skmedtl cache" in capsys.readouterr().out


def test_a_closed_pipe_is_not_an_error():
    """`skmedtl backbones | head -1`: exit quietly when the reader leaves."""
    script = (
        "import sys\n"
        "from skmedtl.cli import backbones, main\n"
        "def run(args):\n"
        "    for _ in range(2000):\n"
        "        print('x' * 1000)\n"
        "    return 0\n"
        "backbones.run = run\n"
        "sys.exit(main(['backbones']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["study", "--datset", "d", "--out", "o"], "'--dataset'"),
        (["extract", "x.png", "--cache", "c.h5", "--backbones", "lenet5"],
         "'--backbone'"),
        (["cache", "prune", "c.h5", "--older-then", "3"], "'--older-than'"),
    ],
)
def test_a_misspelt_flag_gets_a_suggestion(argv, suggestion, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == EXIT_USAGE
    assert f"Did you mean {suggestion}?" in capsys.readouterr().err
