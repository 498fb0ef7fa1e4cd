"""The study's profiler (stage timings) and the reuse of unchanged outputs."""

from __future__ import annotations

import hashlib
import json

import pytest

from skmedtl.study._measure import CellTimes, StudyTimes
from tests._helpers import tiny_study

APPROACHES = ["hybrid-logreg", "fine_tune:1"]
#: What a resumed finished study must not redo.
OUTPUT_STAGES = ("statistics_s", "model_save_s", "saliency_s", "report_s")


def _study(data, out, **params):
    return tiny_study(data, out, **{"approaches": APPROACHES, **params})


def _cells(out) -> list[dict]:
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == "cell"]


def _timings(out) -> dict:
    return json.loads((out / "study.json").read_text(encoding="utf-8"))["timings"]


def _outputs(out) -> dict:
    """Every output file (the log and manifest aside): its bytes' hash and mtime."""
    skip = {"results.jsonl", "study.json", "embeddings.h5", ".study.lock"}
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name not in skip and "models" not in path.parts:
            data = path.read_bytes()
            files[path.relative_to(out).as_posix()] = (
                hashlib.sha256(data).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return files


def test_stage_timer_accumulates_and_refuses_unknown_stages():
    times = CellTimes()
    with times.stage("prediction_s"):
        pass
    first = times.prediction_s
    with times.stage("prediction_s"):
        sum(range(10_000))
    assert times.prediction_s > first >= 0.0
    assert times.training_s is None
    with pytest.raises(AttributeError, match="no stage 'cached_trunk'"):
        with times.stage("cached_trunk"):  # a flag, not a stage
            pass
    with pytest.raises(AttributeError, match="no stage 'nope_s'"):
        with StudyTimes().stage("nope_s"):
            pass
    # records round-trip; fields of another version are left out
    back = CellTimes.from_dict({**times.to_dict(), "later_s": 1.0})
    assert back == times


@pytest.mark.slow
def test_profile_recorded_and_finished_study_resumes_without_redoing_outputs(
    tiny_npz, tmp_path
):
    out = tmp_path / "out"
    first = _study(tiny_npz, out).run()
    # each cell's record: its stages, typed as CellTimes
    cells = {r["approach"]: CellTimes(**r["timings"]) for r in _cells(out)}
    hybrid, tuned = cells["hybrid-logreg"], cells["fine_tune:1"]
    assert hybrid.extraction_s > 0 and hybrid.head_tuning_s >= hybrid.head_fit_s > 0
    assert hybrid.training_s is None and tuned.head_tuning_s is None
    assert tuned.training_s > 0 and tuned.extraction_s is None
    assert isinstance(tuned.cached_trunk, bool)
    for c in cells.values():
        assert c.prediction_s > 0 and c.evaluation_s > 0 and c.calibration_s > 0
    # the study's stages, in study.json
    times = StudyTimes(**_timings(out))
    assert not times.outputs_reused
    for name in ("preparation_s", "cells_s", "cell_save_s", *OUTPUT_STAGES):
        assert getattr(times, name) > 0, name
    assert times.cells_s >= times.cell_save_s
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Where the time went" in report
    assert "head tuning (inner CV on training)" in report
    written = _outputs(out)
    assert "report.md" in written and "figures/explanations.png" in written

    again = _study(tiny_npz, out).run()
    assert (again.n_run, again.n_skipped) == (0, len(APPROACHES))
    times = StudyTimes(**_timings(out))
    assert times.outputs_reused and times.cells_s is not None
    assert all(getattr(times, name) is None for name in OUTPUT_STAGES)
    assert _outputs(out) == written  # same bytes, not even rewritten
    assert again.table == first.table
    assert again.recommendation == first.recommendation
    assert again.comparisons == first.comparisons
    assert again.files == first.files
    # every run's profile stays in the log
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    runs = [r for r in map(json.loads, lines) if r["type"] == "timings"]
    assert [r["timings"]["outputs_reused"] for r in runs] == [False, True]


@pytest.mark.slow
def test_changed_or_missing_outputs_are_written_again(tiny_npz, tmp_path):
    out = tmp_path / "out"
    _study(tiny_npz, out, approaches=["hybrid-logreg"]).run()
    report = (out / "report.md").read_text(encoding="utf-8")
    (out / "report.md").write_text("edited by hand\n", encoding="utf-8")
    _study(tiny_npz, out, approaches=["hybrid-logreg"]).run()
    assert not StudyTimes(**_timings(out)).outputs_reused
    assert (out / "report.md").read_text(encoding="utf-8") != "edited by hand\n"
    assert "## Where the time went" in report

    (out / "figures" / "explanations.png").unlink()
    _study(tiny_npz, out, approaches=["hybrid-logreg"]).run()
    assert not StudyTimes(**_timings(out)).outputs_reused
    assert (out / "figures" / "explanations.png").is_file()
    # a report setting that changes the outputs (not the cells) writes them again
    _study(tiny_npz, out, approaches=["hybrid-logreg"], cost="params").run()
    assert not StudyTimes(**_timings(out)).outputs_reused
    _study(tiny_npz, out, approaches=["hybrid-logreg"], cost="params").run()
    assert StudyTimes(**_timings(out)).outputs_reused
