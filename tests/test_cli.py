"""The command line: the review's Table 1 and the offline demo."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from skmedtl.cli import main


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


def test_user_errors_give_a_message_and_exit_code_not_a_traceback(capsys):
    assert main(["demo", "--backbone", "resnet5", "--quiet"]) == 1
    err = capsys.readouterr().err
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


@pytest.mark.parametrize("command", ["backbones", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage" in capsys.readouterr().out
