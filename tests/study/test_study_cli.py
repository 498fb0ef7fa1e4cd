"""`skmedtl study` end to end on a tiny data set: files, report, recommendation."""

from __future__ import annotations

import csv
import json
import math
import re
from html.parser import HTMLParser

import pytest

from .conftest import TINY

APPROACHES = "feature_extractor,hybrid-svm,hybrid-logreg,hybrid-rf,hybrid-xgboost,"
APPROACHES += "fine_tune:1,gradual,full,random_init"
METRICS = ["accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity"]
FIGURES = [
    "performance_vs_cost.png",
    "cost_by_backbone.png",
    "cost_by_approach.png",
    "performance_vs_parameters.png",
    "roc_best.png",
    "reliability.png",
    "explanations.png",  # saliency maps of the saved selected model
]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One tiny study over every approach, shared by the tests of this module."""
    import numpy as np

    from skmedtl.cli import main

    from .conftest import make_images

    root = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in (("train", 32), ("val", 8), ("test", 12)):
        labels = np.repeat([0, 1], n // 2)
        arrays[f"{split}_images"] = make_images(rng, labels)
        arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8)
    np.savez(root / "tiny.npz", **arrays)
    out = root / "out"
    code = main(
        [
            "study",
            "--dataset",
            str(root / "tiny.npz"),
            "--out",
            str(out),
            "--approaches",
            APPROACHES,
            *TINY,
        ]
    )
    return code, out


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _number(text: str):
    return None if text == "" else float(text)


def _expected_cells(row: dict) -> list[str]:
    """The report's cells for a results.csv row, formatted from the CSV values."""

    def metric(m):
        est, low, high = (float(row[m + s]) for s in ("", "_low", "_high"))
        return f"{est:.3f} [{low:.3f}, {high:.3f}]"

    def fmt(key, spec):
        value = _number(row[key])
        return "–" if value is None else format(value, spec)

    params = _number(row["trainable_params"])
    return [
        *(metric(m) for m in METRICS),
        fmt("extract_time_s", ".1f"),
        fmt("train_time_s", ".1f"),
        fmt("inference_ms_per_image", ".2f"),
        "–" if params is None else f"{int(params):,}",
        fmt("peak_memory_mb", ".0f"),
    ]


def _markdown_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, li in enumerate(lines) if li.startswith("| # | backbone"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self.images = [], None, None, []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag == "td":
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row:
            self.rows.append(self._row)
            self._row = None


def test_study_writes_table_report_and_figures(tiny_study):
    code, out = tiny_study
    assert code == 0
    for name in [
        "results.csv",
        "cells.csv",
        "results.jsonl",
        "study.json",
        "report.md",
        "report.html",
    ]:
        assert (out / name).stat().st_size > 0, name
    for name in FIGURES:
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    rows = _csv(out / "results.csv")
    approaches = APPROACHES.replace("fine_tune:1", "fine_tune:1").split(",")
    assert sorted(r["approach"] for r in rows) == sorted(approaches)
    for r in rows:
        for m in METRICS:
            est, low, high = (float(r[m + s]) for s in ("", "_low", "_high"))
            assert 0 <= low <= est + 1e-12 and est <= high + 1e-12 <= 1 + 1e-12
        assert float(r["train_time_s"]) > 0
        assert float(r["inference_ms_per_image"]) > 0
        assert int(r["trainable_params"]) > 0
        assert r["device"].startswith("cpu")
    frozen = [r for r in rows if r["approach"].startswith(("hybrid", "feature"))]
    trained = [r for r in rows if r not in frozen]
    assert all(float(r["extract_time_s"]) > 0 for r in frozen)
    assert all(r["extract_time_s"] == "" for r in trained)
    # every frozen approach shares one extraction of the backbone
    assert len({r["extract_time_s"] for r in frozen}) == 1
    # full fine-tuning trains every parameter, fine_tune:1 fewer, the head fewest
    params = {r["approach"]: int(r["trainable_params"]) for r in rows}
    assert params["full"] == params["random_init"] > params["fine_tune:1"]
    assert params["fine_tune:1"] > params["feature_extractor"]


def test_report_numbers_equal_the_results_table(tiny_study):
    _, out = tiny_study
    rows = _csv(out / "results.csv")
    md_rows = _markdown_rows((out / "report.md").read_text(encoding="utf-8"))
    parser = _Tables()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    html_rows = parser.rows[: len(rows)]
    assert len(md_rows) == len(rows)
    for row, md, html in zip(rows, md_rows, html_rows, strict=True):
        assert md == html  # one document, two renderings
        assert md[1] == row["backbone"] and md[2] == row["approach"]
        # the inner (tuning) score, then the validation score without an
        # interval (the selected one is optimistic)
        assert md[3] == "{:.3f}".format(float(row["inner_score"]))
        assert md[4] == "{:.3f}".format(float(row["validation_score"]))
        assert md[5:15] == _expected_cells(row)


def test_html_report_is_self_contained(tiny_study):
    _, out = tiny_study
    parser = _Tables()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    assert len(parser.images) == len(FIGURES)
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for name in FIGURES:
        assert f"](figures/{name})" in markdown


def test_recommendation_names_existing_cells_and_follows_the_rule(tiny_study):
    _, out = tiny_study
    rows = {r["config"]: r for r in _csv(out / "results.csv")}
    markdown = (out / "report.md").read_text(encoding="utf-8")
    best_name = re.search(
        r"\*\*Selected on validation\*\*: \*\*(.+?)\*\*", markdown
    ).group(1)
    assert best_name in rows
    cheap = re.search(
        r"\*\*Cheaper alternative\*\* \(.*?above -0\.02\): (?:\*\*(.+?)\*\*|none)",
        markdown,
    )
    cheap_name = cheap.group(1) or best_name
    assert cheap_name in rows
    assert "test ranking of the other rows is **exploratory**" in markdown

    def auc(name):  # the validation score: selection never looks at the test set
        return float(rows[name]["validation_score"])

    def cost(name):
        return float(rows[name]["compute_time_s"])

    best = max(rows, key=lambda n: (auc(n), -cost(n)))
    assert best_name == best
    # non-inferiority: the cheapest of the cheaper configurations whose paired
    # validation difference to the selected one has a CI lower bound > -margin
    recorded = json.loads((out / "study.json").read_text())["selection"]
    assert recorded["selected"] == best and recorded["margin"] == 0.02
    differences = recorded["validation_differences"]
    assert set(differences) == {n for n in rows if cost(n) < cost(best)}
    for name, d in differences.items():
        assert d["ci_low"] <= d["ci_high"]
        assert math.isclose(d["difference"], auc(name) - auc(best), abs_tol=1e-9)
    within = [n for n, d in differences.items() if d["ci_low"] > -0.02]
    expected = min(within, key=lambda n: (cost(n), -auc(n))) if within else best
    assert cheap_name == expected
    assert recorded["cheaper_alternative"] == (None if not within else expected)
    # the selection's optimism is disclosed in the report and study.json
    disclosed = recorded["optimism"]
    assert disclosed["selected"] == best
    assert math.isclose(disclosed["validation_score"], auc(best), abs_tol=1e-9)
    assert f"bias-corrected estimate is {disclosed['corrected']:.3f}" in markdown
    # the table marks them
    md_rows = _markdown_rows(markdown)
    marked = {f"{r[1]} / {r[2]}": r[0] for r in md_rows}
    assert "★" in marked[best_name] and "◆" in marked[cheap_name]


def test_cells_table_has_one_row_per_seed_and_finite_scores(tiny_study):
    _, out = tiny_study
    cells = _csv(out / "cells.csv")
    assert len(cells) == len(APPROACHES.split(","))
    assert {c["seed"] for c in cells} == {"0"}
    assert all(math.isfinite(float(c["auc"])) for c in cells)


@pytest.mark.parametrize("command", ["study", "extract", "demo"])
def test_every_study_command_has_help(command, run_cli):
    code, out, _ = run_cli([command, "--help"])
    assert code == 0 and "usage:" in out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--approaches", "hybrid-svn", "Did you mean 'hybrid-svm'"),
        ("--profile", "quik", "Did you mean 'quick'"),
        ("--backbones", "resnet5", "Did you mean 'resnet50'"),
        ("--metric", "acu", "Did you mean 'auc'"),
    ],
)
def test_user_mistakes_exit_2_with_a_message(
    option, value, message, tmp_path, tiny_npz, run_cli
):
    argv = ["study", "--dataset", tiny_npz, "--out", tmp_path / "o", *TINY]
    code, out, err = run_cli([*argv, option, value])  # argparse's exit code too
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written for a bad command


def test_unknown_dataset_suggests_the_bundled_name(tmp_path, run_cli):
    code, _, err = run_cli(["study", "--dataset", "breastmnst", "--out", tmp_path])
    assert code == 2 and "Did you mean 'breastmnist'" in err


def test_missing_required_option_is_a_usage_error(run_cli):
    code, _, err = run_cli(["study", "--dataset", "breastmnist"])
    assert code == 2 and "--out" in err


def test_dry_run_lists_cells_and_runs_nothing(tmp_path, tiny_npz, run_cli):
    code, out, _ = run_cli(
        [
            "study",
            "--dataset",
            tiny_npz,
            "--out",
            tmp_path / "o",
            *TINY,
            "--approaches",
            "hybrid-logreg,full",
            "--dry-run",
        ]
    )
    assert code == 0
    assert "[ ] lenet5 / hybrid-logreg / seed 0" in out
    assert "[ ] lenet5 / full / seed 0" in out
    assert not (tmp_path / "o" / "results.jsonl").exists()


@pytest.mark.slow
def test_statistics_flags_reach_the_study(tmp_path, tiny_npz, run_cli):
    code, _, err = run_cli(
        ["study", "--dataset", tiny_npz, "--out", tmp_path / "o", *TINY]
        + ["--target-sensitivity", "0.9", "--target-specificity", "0.9"]
    )
    assert code == 2 and "not both" in err
    code, _, _ = run_cli(
        ["study", "--dataset", tiny_npz, "--out", tmp_path, "--calibrate", "x"]
    )
    assert code == 2
    code, out, _ = run_cli(
        ["study", "--dataset", tiny_npz, "--out", tmp_path / "p", *TINY]
        + ["--approaches", "hybrid-logreg,hybrid-svm", "--calibrate", "temperature"]
        + ["--target-specificity", "0.75", "--task", "ordinal"]
    )
    assert code == 0
    assert "selected on validation (auc)" in out and "p(Holm)" in out
    assert "after temperature" in out and "specificity on validation" in out
    assert "## Ordinal agreement" in (tmp_path / "p" / "report.md").read_text()


def test_compute_time_charges_every_approach_alike(tiny_study):
    """Training side plus test inference, from the image, for every approach."""
    _, out = tiny_study
    n_dev, n_test = 32 + 8, 12
    cells = _csv(out / "cells.csv")
    assert {c["approach"] for c in cells} == set(APPROACHES.split(","))
    for c in cells:
        inference = float(c["inference_ms_per_image"]) * n_test / 1e3
        assert math.isclose(float(c["test_inference_s"]), inference, rel_tol=1e-9)
        extract = _number(c["extract_time_s"]) or 0.0
        expected = extract * n_dev / (n_dev + n_test) + float(c["train_time_s"])
        assert math.isclose(
            float(c["compute_time_s"]), expected + inference, rel_tol=1e-9
        ), c["cell"]
        assert inference > 0  # nobody's test inference is free
