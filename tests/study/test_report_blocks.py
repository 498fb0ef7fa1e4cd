"""Each statistics block of the report, rendered from typed-enough results."""

from __future__ import annotations

from types import SimpleNamespace

from skmedtl.study._report_stats import (
    calibration_blocks,
    comparison_blocks,
    operating_point_blocks,
    ordinal_blocks,
    per_class_blocks,
    statistics_blocks,
)


def _row(config, **values):
    row = {"config": config}
    for name, v in values.items():
        row.update({name: v, f"{name}_low": v - 0.1, f"{name}_high": v + 0.1})
    return row


def _context(**kw):
    context = {
        "metric": "auc",
        "dataset": {"classes": ["a", "b", "c"]},
        "n_test": 40,
        "settings": {"n_bootstraps": 100},
        "calibrate": "none",
    }
    context.update(kw)
    return context


def _comparison(p_delong=None, significant=True):
    return {
        "config": "other",
        "estimate_other": 0.7,
        "estimate_selected": 0.9,
        "difference": 0.2,
        "ci_low": 0.05,
        "ci_high": 0.35,
        "p_bootstrap": 0.01,
        "p_bootstrap_holm": 0.02,
        "p_delong": p_delong,
        "p_delong_holm": p_delong,
        "significant": significant,
    }


def _results(comparisons, rows=None):
    rows = rows or [_row("best", brier=0.2, ece=0.1), _row("other", brier=0.3, ece=0.2)]
    return SimpleNamespace(
        table=rows,
        recommendation={"best": {"config": "best"}},
        comparisons=comparisons,
    )


def _table(blocks):
    return next(b for b in blocks if b[0] == "table")


def _text(blocks):
    return " ".join(b[1] for b in blocks if b[0] == "p")


def test_comparisons_name_the_test_and_count_the_distinguishable():
    blocks = comparison_blocks(_results([_comparison()]), _context())
    _, header, body = _table(blocks)
    assert "p (DeLong)" not in header and body[0][2] == "+0.200 [+0.050, +0.350]"
    assert "1 of 1 configurations are distinguishable" in _text(blocks)
    delong = comparison_blocks(_results([_comparison(0.03, False)]), _context())
    _, header, body = _table(delong)
    assert header[-3:] == ["p (DeLong)", "p Holm (DeLong)", "distinguishable"]
    assert body[0][-1] == "no" and "DeLong's test" in _text(delong)


def test_one_configuration_has_nothing_to_compare():
    blocks = comparison_blocks(_results([]), _context())
    assert "nothing to compare" in _text(blocks)


def test_calibration_before_and_after():
    rows = [_row("best", brier=0.2, ece=0.1, brier_calibrated=0.1, ece_calibrated=0.05)]
    plain = calibration_blocks(rows, _context())
    assert len(_table(plain)[1]) == 3 and "No recalibration" in _text(plain)
    after = calibration_blocks(rows, _context(calibrate="temperature"))
    assert _table(after)[1][-2:] == ["Brier after temperature", "ECE after temperature"]
    assert "Recalibration (temperature)" in _text(after)


def test_the_operating_point_block_appears_with_a_threshold_only():
    assert operating_point_blocks([_row("best", auc=0.9)], _context()) == []
    row = _row("best", sensitivity_at_threshold=0.8, specificity_at_threshold=0.7)
    row.update(_row("best", sensitivity=0.6, specificity=0.9), threshold=0.238)
    blocks = operating_point_blocks([row], _context(operating_point=("youden", None)))
    assert _table(blocks)[2][0][1] == "0.238"
    assert "Youden" in _text(blocks)


def test_per_class_auc_uses_the_class_names():
    row = _row("best", auc_class_0=0.9, auc_class_1=0.8, auc_class_2=0.7)
    _, header, body = _table(per_class_blocks([row], _context()))
    assert header == ["configuration", "a", "b", "c"] and len(body[0]) == 4
    assert per_class_blocks([_row("best", auc=0.9)], _context()) == []


def test_ordinal_agreement_states_the_grade_order():
    rows = [_row("best", qwk=0.6, mae=0.4)]
    assert ordinal_blocks(rows, _context()) == []
    blocks = ordinal_blocks(rows, _context(task="ordinal", grades=["lo", "mid", "hi"]))
    assert "lo < mid < hi" in _text(blocks)
    assert _table(blocks)[1] == [
        "configuration",
        "QWK [95% CI]",
        "MAE (grades) [95% CI]",
    ]


def test_no_recommendation_no_statistics():
    results = _results([])
    results.recommendation = None
    assert statistics_blocks(results, _context()) == []
    results = _results([_comparison()])
    titles = [b[1] for b in statistics_blocks(results, _context()) if b[0] == "h2"]
    assert titles == [
        "Paired comparisons with the selected configuration",
        "Calibration",
    ]
