"""Direct tests of the study's small modules: records, selection, heads, cost."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from skmedtl.hybrid import HEAD_GRIDS
from skmedtl.study._approaches import parse_approach, parse_approaches
from skmedtl.study._cells import Cell
from skmedtl.study._cost import _measured_cost, resolve_threads
from skmedtl.study._heads import count_head_params, head_grid
from skmedtl.study._measure import Stopwatch, describe_device
from skmedtl.study._outputs import _logged_failures, grade_names, package_versions
from skmedtl.study._records import ResultStore, settings_key, to_json
from skmedtl.study._results import StudyResults
from skmedtl.study._runner import cell_resources
from skmedtl.study._splits import resolve_split
from skmedtl.study._summary import recommend


# -- records ----------------------------------------------------------------------
def test_to_json_takes_numpy_and_paths_and_refuses_the_rest():
    text = to_json({"a": np.float32(0.5), "b": np.arange(3), "p": Path("x")})
    assert json.loads(text) == {"a": 0.5, "b": [0, 1, 2], "p": "x"}
    assert to_json(float("nan")) == "NaN"
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        to_json(object())


def test_settings_key_ignores_order_and_sees_every_value():
    a = settings_key({"x": 1, "y": [1, 2]})
    assert a == settings_key({"y": [1, 2], "x": 1}) and len(a) == 16
    assert a != settings_key({"x": 1, "y": [2, 1]})
    assert a != settings_key({"x": 1.0000001, "y": [1, 2]})


def test_result_store_keeps_the_last_record_of_each_key(tmp_path):
    store = ResultStore(tmp_path / "sub" / "log.jsonl")
    assert store.read() == [] and store.latest("cell") == {}
    store.append({"type": "cell", "key": "a", "v": 1})
    store.append({"type": "failure", "key": "b"})
    store.append({"type": "cell", "key": "a", "v": 2})
    assert store.latest("cell") == {"a": {"type": "cell", "key": "a", "v": 2}}
    assert list(store.latest("failure")) == ["b"] and len(store.read()) == 3


def test_a_torn_line_is_skipped_with_a_warning_and_the_next_append_is_whole(tmp_path):
    path = tmp_path / "log.jsonl"
    store = ResultStore(path)
    store.append({"type": "cell", "key": "a"})
    with open(path, "a") as f:
        f.write('{"type": "cell", "key": "to')
    store.append({"type": "cell", "key": "b"})
    with pytest.warns(RuntimeWarning, match="1 incomplete line"):
        assert set(store.latest("cell")) == {"a", "b"}


# -- recommendation ----------------------------------------------------------------
def _row(config, score, low=None, time=1.0):
    return {
        "config": config,
        "validation_score": score,
        "validation_low": score if low is None else low,
        "compute_time_s": time,
    }


def test_recommend_selects_on_validation_and_ties_go_to_the_cheaper():
    rows = [_row("a", 0.9, time=5.0), _row("b", 0.9, time=2.0), _row("c", 0.8)]
    rec = recommend(rows, "auc", "time")
    assert rec["best"]["config"] == "b" and rec["selected_on"] == "validation"
    assert rec["cost_column"] == "compute_time_s"


def test_recommend_cheapest_non_inferior_by_the_paired_difference():
    rows = [_row("big", 0.92, low=0.85, time=10.0), _row("small", 0.86, time=1.0)]
    rows.append(_row("worse", 0.80, time=0.1))
    lows = {"small": -0.015, "worse": -0.05}  # paired CI lower bounds

    def difference(other, selected):
        assert selected == "big"
        return {"difference": -0.01, "ci_low": lows[other], "ci_high": 0.0}

    rec = recommend(rows, "auc", "time", difference=difference)
    assert rec["best"]["config"] == "big" and rec["cheapest"]["config"] == "small"
    assert rec["candidates"] == ["small"] and rec["margin"] == 0.02
    assert set(rec["differences"]) == {"small", "worse"}
    # without paired differences no alternative is proposed
    assert recommend(rows, "auc", "time")["cheapest"]["config"] == "big"


def test_recommend_without_scores_is_none_and_nan_is_left_out():
    assert recommend([_row("a", float("nan"))]) is None
    assert recommend([]) is None
    rec = recommend([_row("a", float("nan")), _row("b", 0.5)])
    assert rec["best"]["config"] == "b"
    missing_cost = {**_row("c", 0.5), "compute_time_s": None}
    rec = recommend([missing_cost, _row("d", 0.5, time=3.0)])
    assert rec["best"]["config"] == "d"  # an unknown cost is not cheaper


# -- approaches, heads --------------------------------------------------------------
def test_approaches_parse_with_their_family_and_freezing():
    names = [a.name for a in parse_approaches("hybrid-svm, full", 2)]
    assert names == ["hybrid-svm", "full"]
    assert parse_approach("feature_extractor").frozen
    assert parse_approach("fine_tune", fine_tune_blocks=2).name == "fine_tune:2"
    assert parse_approach("hybrid-rf").head == "rf"


@pytest.mark.parametrize("size", ["small", "full"])
def test_head_grids_are_copies_of_the_table(size):
    for head in ("svm", "logreg", "rf", "xgboost"):
        grid = head_grid(head, size)
        assert grid == {f"clf__{k}": v for k, v in HEAD_GRIDS[size][head].items()}
        grid[next(iter(grid))].append("x")
        assert "x" not in next(iter(HEAD_GRIDS[size][head].values()))


def test_count_head_params_of_a_logistic_regression_and_a_forest():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.arange(30) % 3
    lr = LogisticRegression().fit(X, y)
    assert count_head_params(lr) == 3 * 4 + 3
    rf = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    assert count_head_params(rf) == sum(t.tree_.node_count for t in rf.estimators_)
    assert count_head_params(object()) is None


# -- splits ------------------------------------------------------------------------
def test_resolve_split_holds_out_a_stratified_test_set():
    labels = np.repeat([0, 1], 20)
    split, how = resolve_split(labels, test_size=0.25, random_state=0)
    assert (split == "test").sum() == 10 and set(split) == {"train", "test"}
    assert np.bincount(labels[split == "test"]).tolist() == [5, 5]
    assert isinstance(how, str) and how


def test_resolve_split_keeps_a_given_test_split():
    labels = np.repeat([0, 1], 4)
    given = np.array(["train", "test"] * 4)
    split, _ = resolve_split(labels, split=given)
    assert (split == given).all()


# -- cost ---------------------------------------------------------------------------
def test_threads_default_auto_and_explicit(monkeypatch):
    from skmedtl.study import TransferStudy
    from skmedtl.utils import _devices

    constraint = TransferStudy._parameter_constraints["n_threads"]
    assert resolve_threads(3, 8, "cpu", constraint) == 3
    assert resolve_threads("auto", 4, "cuda", constraint) == 4
    auto = resolve_threads("auto", 4, "cpu", constraint)
    assert 1 <= auto <= 4
    with pytest.raises((ValueError, TypeError), match="n_threads"):
        resolve_threads(0, 4, "cpu", constraint)
    # the default: PyTorch's count within the usable cores, whatever the load
    monkeypatch.setattr(_devices, "usable_cpus", lambda: 3)
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))
    assert resolve_threads(None, 8, "cpu", constraint) == 3
    assert resolve_threads(None, 2, "cpu", constraint) == 2
    assert resolve_threads(None, 8, "cuda", constraint) == 8
    assert resolve_threads("auto", 8, "cpu", constraint) == 1  # busy: one thread


def test_busy_cpu_warns_only_for_the_default_on_a_full_cpu(monkeypatch):
    from skmedtl.study._cost import busy_cpu_warning
    from skmedtl.utils import _devices

    monkeypatch.setattr(_devices, "usable_cpus", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 1.0, 1.0))
    text = busy_cpu_warning(None, 2, "cpu")
    assert "load 2.5 on 2 cores" in text and "--threads 1" in text
    assert busy_cpu_warning(2, 2, "cpu") is None  # the user chose it
    assert busy_cpu_warning("auto", 1, "cpu") is None
    assert busy_cpu_warning(None, 1, "cpu") is None  # one thread waits for none
    assert busy_cpu_warning(None, 2, "cuda") is None
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert busy_cpu_warning(None, 2, "cpu") is None


def test_usable_cpus_follows_affinity_and_container_quota(monkeypatch, tmp_path):
    from skmedtl.utils import _devices

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    v2 = tmp_path / "cpu.max"
    monkeypatch.setattr(_devices, "_CGROUP_V2_MAX", v2)
    monkeypatch.setattr(_devices, "_CGROUP_V1_QUOTA", tmp_path / "none")
    assert _devices.usable_cpus() == 4  # no cgroup file: the affinity
    v2.write_text("max 100000\n")
    assert _devices.usable_cpus() == 4  # no quota
    v2.write_text("150000 100000\n")
    assert _devices.usable_cpus() == 2  # 1.5 cores: two threads
    v2.write_text("50000 100000\n")
    assert _devices.usable_cpus() == 1
    v2.write_text("garbage\n")
    assert _devices.usable_cpus() == 4  # unreadable: no quota
    v2.unlink()
    quota, period = tmp_path / "quota", tmp_path / "period"
    monkeypatch.setattr(_devices, "_CGROUP_V1_QUOTA", quota)
    monkeypatch.setattr(_devices, "_CGROUP_V1_PERIOD", period)
    quota.write_text("300000\n")
    period.write_text("100000\n")
    assert _devices.usable_cpus() == 3
    quota.write_text("-1\n")
    assert _devices.usable_cpus() == 4


def test_measured_cost_divides_by_the_images_computed():
    clock = SimpleNamespace(seconds=2.0)
    memory = SimpleNamespace(peak_mb=10.0, peak_gpu_mb=None)
    images = np.zeros((8, 4, 4))
    cost = _measured_cost(None, images, None, memory, clock, {"n_computed": 8})
    assert cost["seconds_per_image"] == 0.25 and cost["extract_time_s"] == 2.0
    assert cost["method"] == "measured (8 of 8 images computed)"


def test_stopwatch_and_device_description():
    import torch

    with Stopwatch() as clock:
        sum(range(1000))
    assert clock.seconds >= 0
    assert describe_device(torch.device("cpu")).startswith("cpu (")


# -- outputs, runner ----------------------------------------------------------------
def test_grade_names_and_package_versions():
    data = SimpleNamespace(grades=None)
    assert grade_names(data) is None
    names = {"a": "mild", "b": "severe"}
    data = SimpleNamespace(grades=("b", "a"), class_name=names.get)
    assert grade_names(data) == ["severe", "mild"]
    versions = package_versions()
    assert versions["numpy"] == np.__version__ and "python" in versions


def test_logged_failures_are_those_of_planned_cells_without_a_result(tmp_path):
    store = ResultStore(tmp_path / "log.jsonl")
    for key in ("a", "b", "c"):
        store.append({"type": "failure", "key": key, "cell": key, "error": "E: x"})
    study = SimpleNamespace(
        _store=store, cells_=[SimpleNamespace(key="a"), SimpleNamespace(key="b")]
    )
    failures = _logged_failures(study, records={"b": {}})
    assert failures == [{"cell": "a", "error": "E: x"}]


def test_cells_that_train_ask_for_a_gpu():
    frozen = Cell("lenet5", parse_approach("hybrid-svm"), 0, {}, "k")
    trained = Cell("lenet5", parse_approach("full"), 0, {}, "k")
    assert cell_resources(frozen, "cuda") == {}
    assert cell_resources(trained, "cuda") == {"GPU": 1}
    assert cell_resources(trained, "cpu") == {}
    assert frozen.id == "lenet5 / hybrid-svm / seed 0"


def test_study_results_selected_and_complete():
    rows = [{"config": "a", "auc": 0.9}]
    results = StudyResults(
        out_dir=os.fspath("x"),
        table=rows,
        cells=[],
        recommendation={"best": rows[0]},
        files={},
        n_cells=2,
        n_run=1,
        n_skipped=0,
        failures=[],
    )
    assert results.selected == rows[0]
    assert not results.complete
    assert math.isclose(results.table[0]["auc"], 0.9)
