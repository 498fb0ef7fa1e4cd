"""Every study output reproduces: results, predictions and the saved model.

The golden files were written by the study before its rebuild (issue #27), by
``python -m tests.study._golden``; the rebuilt study must write the same bytes
(time, memory and device columns aside).
"""

from __future__ import annotations

import difflib
import json

import pytest

from ._golden import GOLDEN, TASKS, run


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_study_outputs_match_the_golden_files(task, tmp_path):
    outputs = run(task, tmp_path / "out")
    for name, text in outputs.items():
        expected = (GOLDEN / task / name).read_text()
        if text != expected:
            diff = difflib.unified_diff(
                expected.splitlines(), text.splitlines(), "golden", "now", lineterm=""
            )
            pytest.fail(f"{task}/{name} differs:\n" + "\n".join(list(diff)[:40]))
    # the trained cells record the thread count they ran on (the study pins 1),
    # and the Methods paragraph names it; frozen hybrids record none
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    cells = [r for r in map(json.loads, lines) if "approach" in r]
    threads = {(r["approach"], r.get("cpu_threads")) for r in cells}
    assert threads == {(a, None if a.startswith("hybrid-") else 1) for a, _ in threads}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "The trained approaches ran on 1 PyTorch CPU thread;" in report


def test_the_golden_files_exist_for_every_task():
    for task in TASKS:
        for name in ("results.csv", "predictions.csv", "model.csv"):
            assert (GOLDEN / task / name).stat().st_size > 100
