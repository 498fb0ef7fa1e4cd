"""The executor seam: cell tasks, the local executor, and the driver."""

from __future__ import annotations

import pickle

import pytest

from skmedtl.study import CellExecutor, CellTask, LocalExecutor, TransferStudy
from skmedtl.study._run import check_executor, failure_record, raise_error, run_cells

from ._golden import GOLDEN, dataset, study_args


def _double(x):
    return 2 * x


def _fail(x):
    raise ValueError(f"bad {x}")


def _tasks(*fns):
    return [CellTask(f"k{i}", f"cell {i}", fn, (i,)) for i, fn in enumerate(fns)]


def test_local_executor_yields_results_and_exceptions_in_order():
    tasks = _tasks(_double, _fail, _double)
    outcomes = list(LocalExecutor().run(tasks))
    assert [t.key for t, _ in outcomes] == ["k0", "k1", "k2"]
    assert outcomes[0][1] == 0 and outcomes[2][1] == 4
    assert isinstance(outcomes[1][1], ValueError)
    assert isinstance(LocalExecutor(), CellExecutor)


def test_keyboard_interrupt_is_not_a_cell_failure():
    def interrupt(task):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(LocalExecutor(interrupt).run(_tasks(_double)))


def test_a_task_pickles_and_declares_its_resources():
    task = CellTask("k", "cell", _double, (3,), {"GPU": 1})
    again = pickle.loads(pickle.dumps(task))
    assert again.fn(*again.args) == 6 and again.resources == {"GPU": 1}
    assert CellTask("k", "c", _double, ()).resources == {}


def test_run_cells_raises_or_records_failures():
    seen, failed = [], []
    run_cells(
        iter([_tasks(_double, _fail), _tasks(_double)]),
        LocalExecutor(),
        on_error="skip",
        on_result=lambda t, r: seen.append((t.key, r)),
        on_failure=lambda t, e: failed.append(failure_record(t, e, "run")),
    )
    assert seen == [("k0", 0), ("k0", 0)]
    assert failed[0]["cell"] == "cell 1" and failed[0]["error"] == "ValueError: bad 1"
    assert failed[0]["type"] == "failure" and failed[0]["run_id"] == "run"
    with pytest.raises(ValueError, match="bad 1"):
        run_cells(
            [_tasks(_double, _fail)],
            LocalExecutor(),
            on_error="raise",
            on_result=lambda t, r: None,
            on_failure=lambda t, e: None,
        )


def test_raise_error_and_check_executor():
    with pytest.raises(OSError, match="disk"):
        raise_error(OSError("disk"))
    assert isinstance(check_executor(None), LocalExecutor)
    with pytest.raises(TypeError, match="run\\(tasks\\)"):
        check_executor(object())


def test_the_study_refuses_an_executor_without_run(tmp_path):
    study = TransferStudy(dataset("binary"), tmp_path, executor="dask", weights=None)
    with pytest.raises((TypeError, ValueError), match="executor"):
        study.plan()


class _Remote:
    """Pickles every task (as if sent to another process), runs them backwards."""

    def __init__(self):
        self.labels = []

    def run(self, tasks):
        for task in reversed(list(tasks)):
            copy = pickle.loads(pickle.dumps(task))
            self.labels.append(copy.label)
            yield task, copy.fn(*copy.args)


@pytest.mark.slow
def test_results_do_not_depend_on_where_or_in_which_order_cells_run(tmp_path):
    executor = _Remote()
    args = study_args("multiclass")
    TransferStudy(dataset("multiclass"), tmp_path, executor=executor, **args).run()
    assert len(executor.labels) == len(args["approaches"])
    expected = (GOLDEN / "multiclass" / "predictions.csv").read_text().splitlines()
    got = (tmp_path / "predictions.csv").read_text().splitlines()
    # same rows (the log, hence the table, is in the order results arrived)
    assert sorted(got) == sorted(expected)


def test_head_pipeline_scales_all_but_trees_and_seeds_svm_folds():
    from sklearn.model_selection import StratifiedKFold
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.preprocessing import StandardScaler

    from skmedtl.hybrid import head_pipeline

    svm = head_pipeline("svm", random_state=3)
    assert isinstance(svm.named_steps["scale"], StandardScaler)
    cv = svm.named_steps["clf"].cv
    assert isinstance(cv, StratifiedKFold) and cv.random_state == 3 and cv.shuffle
    assert head_pipeline("rf").named_steps["scale"] == "passthrough"
    multi = head_pipeline("logreg", multilabel=True)
    assert isinstance(multi.named_steps["clf"], MultiOutputClassifier)
