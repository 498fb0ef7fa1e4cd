"""Interrupted studies finish only the remaining cells, embeddings from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from skmedtl.study import LocalExecutor
from tests._helpers import tiny_study, tiny_study_flags

APPROACHES = ["hybrid-logreg", "feature_extractor", "fine_tune:1", "full"]
#: A quick study (frozen backbone: one extraction) and the whole one.
STUDIES = [
    pytest.param(["hybrid-logreg", "hybrid-svm", "feature_extractor"], id="frozen"),
    pytest.param(APPROACHES, id="all", marks=pytest.mark.slow),
]


def _study(data, out, **params):
    return tiny_study(data, out, **{"approaches": APPROACHES, **params})


def _records(out, kind="cell"):
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [r for r in records if r["type"] == kind]


@pytest.mark.parametrize("approaches", STUDIES)
def test_exception_after_k_cells_then_rerun_finishes_only_the_rest(
    approaches, tiny_npz, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    calls = []

    def failing(task):
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        calls.append(task.label)
        return task.fn(*task.args)

    with pytest.raises(RuntimeError, match="injected failure"):
        _study(
            tiny_npz, out, approaches=approaches, executor=LocalExecutor(failing)
        ).run()
    first = _records(out)
    assert [r["cell_id"] for r in first] == calls
    assert not (out / "report.md").exists()  # no report from a broken run

    ran = []

    def counting(task):
        ran.append(task.label)
        return task.fn(*task.args)

    study = _study(
        tiny_npz, out, approaches=approaches, executor=LocalExecutor(counting)
    )
    results = study.run()
    all_cells = [c["cell"] for c in study.plan()]
    assert ran == [c for c in all_cells if c not in calls]
    assert (results.n_skipped, results.n_run) == (2, len(approaches) - 2)
    records = _records(out)
    assert len(records) == len(approaches) == len({r["key"] for r in records})
    assert records[:2] == first  # finished cells untouched
    assert len({r["run_id"] for r in records[:2]}) == 1
    assert records[2]["run_id"] != records[0]["run_id"]
    assert results.complete and len(results.table) == len(approaches)
    # a third run has nothing left to do
    again = _study(tiny_npz, out, approaches=approaches).run()
    assert (again.n_run, again.n_skipped) == (0, len(approaches))


@pytest.mark.slow  # a fresh process: its imports alone take seconds
def test_killed_process_leaves_a_resumable_log(tiny_npz, tmp_path):
    """SIGKILL in the middle of writing the third record; the rerun finishes."""
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import os, signal
        from skmedtl.study import LocalExecutor
        from skmedtl.cli import main

        done = []

        def call_task(self, task):
            if len(done) == 2:  # a torn line, as if killed mid-write, then die
                with open({str(out / "results.jsonl")!r}, "a") as f:
                    f.write('{{"type": "cell", "key": "torn')
                os.kill(os.getpid(), signal.SIGKILL)
            done.append(task.label)
            return task.fn(*task.args)

        LocalExecutor.call_task = call_task
        main(["study", "--dataset", {str(tiny_npz)!r}, "--out", {str(out)!r},
              *{tiny_study_flags(approaches=APPROACHES)!r}])
        """
    )
    env = {**os.environ, "SKMEDTL_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    before = _records(out)
    assert len(before) == 2
    assert (out / "embeddings.h5").exists() or (out / "embeddings.h5.journal").exists()

    with pytest.warns(RuntimeWarning, match="incomplete line"):
        results = _study(tiny_npz, out).run()
    assert (results.n_skipped, results.n_run) == (2, len(APPROACHES) - 2)
    records = _records(out)
    assert records[:2] == before
    assert len(records) == len(APPROACHES) == len({r["key"] for r in records})
    # the frozen backbone was embedded once: the rerun reused the extraction
    extractions = _records(out, "extraction")
    assert len(extractions) == 1
    frozen = [
        r for r in records if r["approach"] in ("hybrid-logreg", "feature_extractor")
    ]
    assert {r["extract_time_s"] for r in frozen} == {extractions[0]["extract_time_s"]}


@pytest.mark.slow
def test_changed_settings_rerun_only_the_cells_they_affect(tiny_npz, tmp_path):
    out = tmp_path / "out"
    _study(tiny_npz, out).run()
    results = _study(tiny_npz, out, max_epochs=2).run()
    # max_epochs concerns the approaches that train the backbone only
    assert results.n_run == 2 and results.n_skipped == 2
    epochs = {c["approach"]: c["epochs"] for c in results.cells}
    assert epochs["fine_tune:1"] <= 2 and epochs["full"] <= 2
    # the report shows the current settings' cells, not the superseded ones
    assert len(results.table) == len(APPROACHES)


@pytest.mark.slow
def test_report_only_rewrites_the_report_from_finished_cells(tiny_npz, tmp_path):
    out = tmp_path / "out"
    first = _study(tiny_npz, out, approaches=["hybrid-logreg"]).run()
    (out / "report.md").unlink()
    study = _study(tiny_npz, out, approaches=["hybrid-logreg", "full"])
    results = study.report()
    assert results.n_run == 0 and not results.complete
    assert results.table[0]["auc"] == first.table[0]["auc"]
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "**Incomplete**: 1 cells have no result yet" in text


def test_a_second_concurrent_run_is_refused(tiny_npz, tmp_path):
    import filelock

    out = tmp_path / "out"
    out.mkdir()
    with filelock.FileLock(str(out / ".study.lock")):
        with pytest.raises(RuntimeError, match="Another study is running"):
            _study(tiny_npz, out).run()


@pytest.mark.slow
def test_ctrl_c_in_the_cli_exits_130_and_the_rerun_finishes(
    tiny_npz, tmp_path, monkeypatch, run_cli
):
    out = tmp_path / "out"
    argv = [
        "study",
        "--dataset",
        tiny_npz,
        "--out",
        out,
        *tiny_study_flags(n_bootstraps=20, approaches=APPROACHES),
    ]
    calls = []

    def interrupted(self, task):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(task.label)
        return task.fn(*task.args)

    monkeypatch.setattr(LocalExecutor, "call_task", interrupted)
    code, _, err = run_cli(argv)
    assert code == 130
    assert "1 cell(s) left; run the same command again" in err
    monkeypatch.undo()
    code, out_text, _ = run_cli(argv)
    assert code == 0 and "3 finished before" in out_text
    assert len(_records(out)) == len(APPROACHES)
