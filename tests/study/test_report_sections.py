"""Each report section rendered directly from typed inputs (issue #27).

The numbers are compared with independent formatting or computations; each
sentence is checked to change when, and only when, its fact changes.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skmedtl.study._evaluate import METRICS
from skmedtl.study._facts import MethodFacts, StudyFacts
from skmedtl.study._limitations import limitation_items
from skmedtl.study._measure import StudyTimes
from skmedtl.study._methods import methods_sentences
from skmedtl.study._reliability import reliability_figure
from skmedtl.study._report_format import (
    format_size,
    interval_text,
    p_text,
    row_interval,
    seeded_metric_text,
    thresholds_text,
    validation_text,
)
from skmedtl.study._report_protocol import appendix_blocks
from skmedtl.study._report_recommendation import cost_text, recommendation_blocks
from skmedtl.study._report_render import render_markdown
from skmedtl.study._report_results import results_blocks, unlike_rows
from skmedtl.study._report_timings import timings_blocks


# -- numbers as text ------------------------------------------------------------------
def test_interval_text_states_what_is_known():
    assert interval_text(0.8766, 0.8, 0.9) == "0.877 [0.800, 0.900]"
    assert interval_text(0.8766, float("nan"), float("nan")) == "0.877"
    assert interval_text(0.8766, None, None) == "0.877"
    assert interval_text(None) == interval_text(float("nan")) == "n/a"
    row = {"auc": 0.5, "auc_low": 0.25, "auc_high": 0.75}
    assert row_interval(row, "auc") == "0.500 [0.250, 0.750]"
    assert row_interval(row, "brier") == "n/a"


def test_p_thresholds_and_sizes():
    assert p_text(0.0004) == "<0.001" and p_text(0.0421) == "0.042"
    assert p_text(None) == "–"
    assert thresholds_text([0.2, 0.31]) == "0.200; 0.310"
    assert thresholds_text(0.5) == "0.500" and thresholds_text(None) == "–"
    assert format_size([224, 192]) == "224x192" and format_size(None) == "–"


def test_validation_has_no_interval_and_seeds_add_their_spread():
    row = {"validation_score": 0.9, "validation_sd": 0.02, "auc": 0.8}
    row.update(auc_low=0.7, auc_high=0.9, auc_sd=0.05)
    assert validation_text(row) == "0.900 (SD 0.020)"
    assert "[" not in validation_text(row)
    text = seeded_metric_text(row, "auc")
    assert text == "0.800 [0.700, 0.900] (SD 0.050)"
    row.update(auc_seed_low=0.6, auc_seed_high=1.0)
    assert seeded_metric_text(row, "auc").endswith("; seeds' t 95% CI [0.600, 1.000])")


# -- recommendation -------------------------------------------------------------------
def _row(config, auc, params, category="hybrid"):
    return {
        "config": config,
        "category": category,
        "validation_score": auc,
        "auc": auc - 0.05,
        "auc_low": auc - 0.1,
        "auc_high": auc,
        "trainable_params": params,
    }


def _rec(best, cheap, differences):
    return {"best": best, "cheapest": cheap, "margin": 0.02, "differences": differences}


def test_recommendation_names_the_selected_and_the_cheaper_with_its_ratio():
    best, cheap = _row("b / full", 0.95, 4000, "fine-tuning"), _row("b / lr", 0.9, 100)
    diffs = {"b / lr": {"difference": -0.01, "ci_low": -0.015, "ci_high": 0.004}}
    [(kind, items), (_, rule)] = recommendation_blocks(
        _rec(best, cheap, diffs), "auc", "params", n_test=77
    )
    assert kind == "ul" and len(items) == 3
    assert "**b / full** (fine-tuning), validation AUC 0.950" in items[0]
    assert "AUC 0.900 [0.850, 0.950], 4,000 trained parameters" in items[0]
    assert "Optimism of the selection**: not estimated" in items[1]
    assert (
        "**b / lr** (hybrid), validation difference -0.010 [-0.015, +0.004]"
        in (items[2])
    )
    assert "40.0x less than the best" in items[2]  # 4000 / 100
    assert "above -0.02" in rule and "The test set (77 images)" in rule
    assert "b / lr -0.010 [-0.015, +0.004]" in rule


def test_no_cheaper_alternative_and_no_recommendation():
    best = _row("b / full", 0.95, 4000)
    [(_, items), (_, rule)] = recommendation_blocks(
        _rec(best, best, {}), "auc", "params", 10
    )
    assert "none; no cheaper configuration is non-inferior" in items[2]
    assert "(no cheaper configuration)" in rule
    [(kind, text)] = recommendation_blocks(None, "auc", "params", 10)
    assert kind == "p" and "nothing to recommend" in text


def test_cost_text_follows_the_cost_column():
    row = {"trainable_params": 1234, "peak_memory_mb": 99.6, "compute_time_s": 3.04}
    assert cost_text(row, "trainable_params") == "1,234 trained parameters"
    assert cost_text(row, "peak_memory_mb") == "100 MB peak memory"
    assert cost_text(row, "compute_time_s") == "3.0 s compute"
    assert cost_text(row, "inference_ms_per_image") == "cost not measured"


# -- results table --------------------------------------------------------------------
def _table_row(config, input_size, engine="torch"):
    row = {
        "config": config,
        "backbone": config.split(" / ")[0],
        "approach": config.split(" / ")[1],
        "n_seeds": 1,
        "inner_score": None,
        "validation_score": 0.9,
        "extract_time_s": 1.25,
        "train_time_s": None,
        "inference_ms_per_image": 0.5,
        "trainable_params": 10,
        "peak_memory_mb": 5.0,
        "input_size": input_size,
        "device": "cpu",
        "engine": engine,
    }
    for m in METRICS:
        row.update({m: 0.5, f"{m}_low": 0.4, f"{m}_high": 0.6})
    return row


def test_results_table_marks_and_flags_the_rows_that_differ():
    rows = [
        _table_row("a / lr", 224),
        _table_row("a / svm", 224),
        _table_row("a / full", 64, engine="onnx"),
    ]
    assert unlike_rows(rows) == ({"a / full"}, {"a / full"})
    rec = {"best": rows[1], "cheapest": rows[0]}
    _, intro, (_, header, body), (_, notes) = results_blocks(rows, rec, "auc", 321)
    assert "(321 resamples)" in intro[1]
    assert [r[0] for r in body] == ["1 ◆", "2 ★", "3"]
    assert len(header) == len(body[0])
    col = dict(zip(header, body[2], strict=True))
    assert col["input"] == "64 ‡" and col["device"] == "cpu †"
    assert col["extract s"] == "1.2" and col["train s"] == "–"
    assert col["test AUC [95% CI]"] == "0.500 [0.400, 0.600]"
    assert "‡ input size differs" in notes[-1] and "a / full" in notes[-1]


def test_results_without_unlike_rows_have_no_flag_note():
    rows = [_table_row("a / lr", 224), _table_row("a / svm", 224)]
    *_, (_, notes) = results_blocks(rows, None, "auc", 10)
    assert not any("‡" in n or "†" in n for n in notes)


# -- timings --------------------------------------------------------------------------
def test_timings_sum_the_cells_stages_and_add_this_runs():
    records = [
        {"timings": {"extraction_s": 1.0, "training_s": 2.0, "cached_trunk": True}},
        {"timings": {"extraction_s": 0.5, "training_s": 4.0, "cached_trunk": False}},
        {},  # a record without timings (an old log) is skipped
    ]
    blocks = timings_blocks(records, StudyTimes(preparation_s=3.26))
    (_, title), (_, text), (_, header, body) = blocks
    table = {r[0]: r for r in body}
    assert table["frozen embeddings"][1:3] == ["1.5", "2"]
    assert table["training epochs"][1] == "6.0"
    assert "cached frozen trunk in 1 of 2 cells" in table["training epochs"][3]
    assert table["reading the data, planning"][1:] == ["3.3", "–", "this run"]
    assert "over the 2 profiled cells" in text
    assert timings_blocks([], None) == []


# -- Methods and limitations from typed facts ------------------------------------------
def _study_facts(**changes) -> StudyFacts:
    facts = StudyFacts(
        source="site A",
        n_images=100,
        classes=("benign", "malignant"),
        per_label=False,
        ordinal=False,
        n_train=60,
        n_validation=20,
        n_test=20,
        validation="official",
        test_protocol="official test split",
        groups=None,
        metric="auc",
        n_seeds=1,
        rule="youden",
        target=None,
        calibrate="none",
        n_bootstraps=500,
        backbones=("resnet18",),
        approaches=("hybrid-logreg",),
        weights="imagenet",
        head_grid="small",
        device="cpu",
        packages={"torch": "2.1", "xgboost": "3.0"},
        version="0.1",
    )
    return dataclasses.replace(facts, **changes)


def _method_facts(**changes) -> MethodFacts:
    facts = MethodFacts(
        training={},
        heads=("logreg",),
        heads_on_validation=(),
        inner_folds=(5,),
        inner_fraction=None,
        input_sizes={"224 x 224 pixels": ("hybrid-logreg",)},
        engines=(),
        packages=(),
        n_comparisons=2,
    )
    return dataclasses.replace(facts, **changes)


def _methods(**changes) -> str:
    return " ".join(methods_sentences(_study_facts(**changes), _method_facts()))


@pytest.mark.parametrize(
    "change, says",
    [
        ({"groups": 37}, "grouped by patient (37 patients)"),
        ({"calibrate": "temperature"}, "recalibrated (temperature) on the validation"),
        ({"n_seeds": 3}, "validation AUC (mean over 3 seeds)"),
        ({"ordinal": True}, "quadratic weighted kappa"),
        ({"rule": "sensitivity", "target": 0.9}, "sensitivity >= 0.9"),
        ({"n_train": 61}, "Partitions: 61 training"),
        ({"weights": None}, "(weights: None)"),
        ({"per_label": True}, "2 binary labels (benign, malignant)"),
        ({"device": "cuda:0"}, "device: cuda:0."),
        ({"outer_folds": 5}, "repeated in 5 stratified outer folds"),
        (
            {"outer_folds": 4, "outer_grouped": True},
            "4 stratified, patient-grouped outer folds (nested cross-validation)",
        ),
    ],
)
def test_each_study_fact_changes_its_methods_sentence(change, says):
    before, after = _methods(), _methods(**change)
    assert says in after and says not in before


def test_delong_is_named_only_for_a_binary_auc_study():
    assert "DeLong" in _methods()
    assert "DeLong" not in _methods(classes=("a", "b", "c"))
    assert "DeLong" not in _methods(metric="balanced_accuracy")


def test_software_names_only_packages_the_cells_used():
    text = _methods()
    assert "torch 2.1" in text and "xgboost" not in text
    used = methods_sentences(_study_facts(), _method_facts(packages=("xgboost",)))
    assert "xgboost 3.0" in used[-1]
    none = methods_sentences(_study_facts(packages={}), _method_facts())
    assert none[-1] == "Software: skmedtl 0.1; device: cpu."


def test_one_configuration_is_not_compared():
    sentences = methods_sentences(_study_facts(), _method_facts(n_comparisons=0))
    assert "Statistical analysis: one configuration, no comparison." in sentences


def _limits(study=None, method=None) -> str:
    return " | ".join(
        limitation_items(study or _study_facts(), method or _method_facts())
    )


def test_limitations_follow_their_facts():
    base = _limits()
    assert "No external test set: all images come from one source (site A)" in base
    assert "Small test set (20 images)" in base
    assert "Small validation set (20 images)" in base
    assert "one training seed per configuration" in base
    assert "Random initial" not in base and "Incomplete" not in base
    ext = _limits(_study_facts(external=("/data/b", "/data/c")))
    assert "External test sets: 2 (/data/b, /data/c)" in ext
    assert "No external" not in ext
    big = _limits(_study_facts(n_test=300, n_validation=200, groups=4))
    assert "Small" not in big and "No patient identifiers" not in big
    assert "spread over the 3 seeds" in _limits(_study_facts(n_seeds=3))
    assert "Random initial weights" in _limits(_study_facts(weights=None))
    assert "Incomplete: 2 planned" in _limits(method=_method_facts(n_missing=2))
    optimism = {"selection_rates": {"a": 0.7, "b": 0.3}, "corrected": 0.8}
    optimism["optimism"] = 0.05
    text = _limits(method=_method_facts(optimism=optimism))
    assert "(best of 2): bias-corrected estimate 0.800, optimism +0.050" in text
    assert "the test score is the estimate to publish" in text
    nested = _limits(_study_facts(outer_folds=5), _method_facts(optimism=optimism))
    assert "the nested cross-validation estimate" in nested
    assert "the test score is the estimate to publish" not in nested


# -- external test sets ---------------------------------------------------------------
def test_external_section_reports_the_metrics_of_the_set():
    from skmedtl.metrics import external_validation
    from skmedtl.study._external import ExternalResult
    from skmedtl.study._external_report import external_section

    rng = np.random.default_rng(0)
    y_int, y_ext = np.repeat([0, 1], 30), np.repeat([0, 1], 25)
    p_int = np.clip(y_int * 0.6 + rng.random(60) * 0.4, 0, 1)
    p_ext = np.clip(y_ext * 0.3 + rng.random(50) * 0.7, 0, 1)
    v = external_validation(
        y_int, p_int, y_ext, p_ext, threshold=0.4, labels=[0, 1], n_resamples=50
    )
    result = ExternalResult("site_b", 50, v, None, None, 0.4, "shift: not computed")
    blocks = external_section([result], "r18 / full")
    assert external_section([], "x") == []
    assert blocks[0] == ("h2", "External test sets")
    assert "The selected model (r18 / full) predicted" in blocks[1][1]
    assert blocks[2] == ("p", "**site_b** (50 images)")
    _, header, body = blocks[3]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    auc = rows["auc"]["external"]
    assert auc.startswith(f"{roc_auc_score(y_ext, p_ext):.3f} [")
    assert rows["auc"]["internal test"].startswith(f"{roc_auc_score(y_int, p_int):.3f}")
    kind, items = blocks[4]
    assert kind == "ul" and items[-1] == "shift: not computed"
    assert any("operating point (threshold 0.400)" in i for i in items)


# -- reliability, protocol, rendering --------------------------------------------------
def test_no_reliability_figure_without_a_selection(tmp_path):
    assert reliability_figure([], None, False, tmp_path) is None
    assert not (tmp_path / "figures").exists()


def _results(n_seeds=1, n_cells=1, failures=()):
    cell = {"cell": "a / lr / seed 0", "selection": None, "inner_score": None}
    cell.update(validation_score=0.9, train_time_s=1.0, epochs=None, lr=None)
    cell.update({m: 0.5 for m in METRICS})
    return SimpleNamespace(
        table=[{"n_seeds": n_seeds}],
        cells=[cell],
        n_cells=n_cells,
        failures=list(failures),
    )


def _context():
    dataset = {
        "source": "s",
        "n_images": 10,
        "classes": ["a", "b"],
        "counts": {"train": {"a": 3, "b": 3}, "val": {"a": 1}, "test": {"b": 2}},
        "test_protocol": "official",
        "validation": "official",
        "groups": None,
    }
    return {"dataset": dataset, "settings": {"seeds": [0]}, "n_validation": 1}


def test_appendix_shows_per_seed_failures_and_incompleteness():
    heads = [b[1] for b in appendix_blocks(_results(), _context()) if b[0] == "h2"]
    assert heads == ["Data and protocol", "Settings"]
    failed = [{"cell": "a / full / seed 0", "error": "out of memory"}]
    blocks = appendix_blocks(_results(2, 3, failed), _context())
    heads = [b[1] for b in blocks if b[0] == "h2"]
    assert heads == ["Data and protocol", "Settings", "Per seed", "Failed cells"]
    assert ("ul", ["a / full / seed 0: out of memory"]) in blocks
    assert blocks[-1][1].startswith("**Incomplete**: 2 cells have no result")
    data = blocks[1][1]
    assert data[1] == "Splits: train 6 (a: 3, b: 3); val 1 (a: 1); test 2 (b: 2)."


def test_markdown_renders_every_block_kind(tmp_path):
    blocks = [
        ("h1", "T"),
        ("p", "a **b**"),
        ("ul", ["x", "y"]),
        ("table", ["h1", "h2"], [["1", "2"]]),
        ("img", tmp_path / "figures" / "f.png", "cap"),
    ]
    text = render_markdown(blocks, tmp_path)
    assert text.split("\n") == [
        "# T",
        "",
        "a **b**",
        "",
        "- x",
        "- y",
        "",
        "| h1 | h2 |",
        "|---|---|",
        "| 1 | 2 |",
        "",
        "![cap](figures/f.png)",
        "",
        "*cap*",
        "",
    ]
    assert Path(re.search(r"\((.*)\)", text.split("\n")[11]).group(1)).parts == (
        "figures",
        "f.png",
    )
