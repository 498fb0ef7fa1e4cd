"""A cell's steps directly: the per-label finish, costs, selection, curve records,
the per-label report section and the results-table row."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from skmedtl.study._cells import _hybrid_costs
from skmedtl.study._curves import _curve_record
from skmedtl.study._finetune_history import finetune_selection
from skmedtl.study._measure import CellTimes
from skmedtl.study._per_label import finish_per_label
from skmedtl.study._per_label_report import per_label_blocks
from skmedtl.study._summary import _operating_point_fields, config_row

LABELS = ["effusion", "mass", "nodule"]


def _ctx(rng, n_val=80, n_test=60, calibrate="none"):
    Y = rng.integers(0, 2, size=(n_val + n_test, 3))
    data = SimpleNamespace(labels=Y, class_names=LABELS)
    return SimpleNamespace(
        data=data,
        test=np.arange(n_val, n_val + n_test),
        profile=SimpleNamespace(n_bootstraps=30),
        metric="auc",
        calibrate=calibrate,
    )


def _scores(rng, Y):
    return np.clip(0.35 * Y + 0.65 * rng.random(Y.shape), 0, 1)


def _record(rng, backbone="resnet18", approach="hybrid_lr", seed=0, ctx=None):
    ctx = _ctx(rng) if ctx is None else ctx
    Y_val = ctx.data.labels[:80]
    P_val, P_test = _scores(rng, Y_val), _scores(rng, ctx.data.labels[ctx.test])
    record = finish_per_label(ctx, P_val, P_test, Y_val, CellTimes())
    record.update(
        backbone=backbone,
        approach=approach,
        category="hybrid",
        seed=seed,
        trainable_params=10.4 + seed,
        extract_time_s=1.0,
    )
    return record, ctx, Y_val, P_val, P_test


def _youden(y, p, t) -> float:
    pred = p >= t
    return pred[y == 1].mean() - pred[y == 0].mean()


def test_per_label_thresholds_maximise_youden_on_validation(rng):
    record, ctx, Y_val, P_val, P_test = _record(rng)
    for j, t in enumerate(record["thresholds"]):
        best = max(_youden(Y_val[:, j], P_val[:, j], c) for c in P_val[:, j])
        assert _youden(Y_val[:, j], P_val[:, j], t) == pytest.approx(best)
    # the test set is scored at those thresholds
    Y_test = ctx.data.labels[ctx.test]
    pred = P_test >= np.array(record["thresholds"])
    assert record["y_pred"] == pred.astype(int).tolist()
    sensitivity = np.mean([pred[Y_test[:, j] == 1, j].mean() for j in range(3)])
    assert record["metrics"]["sensitivity"][0] == pytest.approx(sensitivity)
    assert record["test_index"] == list(range(80, 140))
    assert record["val_y"] == Y_val.tolist() and record["task"] == "multilabel"


def test_per_label_finish_refuses_recalibrating_a_one_class_label(rng):
    ctx = _ctx(rng, calibrate="isotonic")
    Y_val = ctx.data.labels[:80].copy()
    Y_val[:, 1] = 0
    P = _scores(rng, Y_val)
    with pytest.raises(ValueError, match="calibrate='isotonic': label 'mass'"):
        finish_per_label(
            ctx, P, _scores(rng, ctx.data.labels[ctx.test]), Y_val, CellTimes()
        )


def test_per_label_blocks_tabulate_each_configuration(rng):
    a = _record(rng, "resnet18")[0]
    b = _record(rng, "densenet121")[0]
    blocks = per_label_blocks([a, b], {"best": {"config": "densenet121 / hybrid_lr"}})
    auc_table, detail = blocks[2], blocks[4]
    assert auc_table[1][2:] == [
        "resnet18 / hybrid_lr AUC [95% CI]",
        "densenet121 / hybrid_lr AUC [95% CI]",
    ]
    for row, label in zip(auc_table[2], LABELS, strict=False):
        est, low, high = b["per_label"][label]["auc"]
        assert row[0] == label and row[3] == f"{est:.3f} [{low:.3f}, {high:.3f}]"
    assert "densenet121 / hybrid_lr" in blocks[3][1]
    assert [r[1] for r in detail[2]] == [f"{t:.3f}" for t in b["thresholds"]]
    assert per_label_blocks([{"backbone": "r", "approach": "x"}], None) == []


def test_config_row_pools_seeds(rng):
    ctx = _ctx(rng)  # one study: one test set, two seeds' models
    recs = [_record(rng, seed=s, ctx=ctx)[0] for s in (0, 1)]
    for r in recs:
        r["extras"] = {"brier": (0.1, 0.05, 0.2)}
    row = config_row("resnet18", "hybrid_lr", recs, 20, metric="auc", task="x")
    aucs = [r["metrics"]["auc"][0] for r in recs]
    assert row["auc"] == pytest.approx(np.mean(aucs))
    assert row["auc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert row["trainable_params"] == 11  # round(mean(10.4, 11.4))
    assert row["validation_score"] == pytest.approx(
        np.mean([r["validation"]["score"] for r in recs])
    )
    assert row["seeds"] == [0, 1] and row["n_seeds"] == 2
    assert row["threshold"] is None and row["threshold_rule"] is None


def test_operating_point_fields_keep_every_seeds_threshold():
    one = [{"operating_point": {"rule": "youden", "threshold": 0.3}}]
    assert _operating_point_fields(one) == {
        "threshold_rule": "youden",
        "threshold": 0.3,
    }
    two = one + [{"operating_point": {"rule": "youden", "threshold": 0.6}}]
    assert _operating_point_fields(two)["threshold"] == [0.3, 0.6]


def test_hybrid_costs_add_the_embeddings_and_the_heads():
    emb = SimpleNamespace(
        extract_time_s=4.0,
        seconds_per_image=0.01,
        peak_memory_mb=100.0,
        peak_gpu_memory_mb=None,
        input_size=[224, 224],
    )
    ctx = SimpleNamespace(test=np.arange(50))
    costs = _hybrid_costs(
        ctx,
        emb,
        SimpleNamespace(seconds=2.0),
        SimpleNamespace(seconds=0.5),
        SimpleNamespace(peak_mb=150.0),
        7,
    )
    assert costs["inference_ms_per_image"] == pytest.approx(1e3 * (0.01 + 0.5 / 50))
    assert costs["peak_memory_mb"] == 150.0 and costs["trainable_params"] == 7
    assert costs["train_time_s"] == 2.0 and costs["extract_time_s"] == 4.0


def test_finetune_selection_says_how_the_learning_rate_was_chosen():
    clf = SimpleNamespace(
        best_epoch_=3,
        history_=[
            {"epoch": 3, "valid_roc_auc": 0.8, "trainable": ["head", "g4"]},
            {"epoch": 4, "valid_roc_auc": 0.7, "trainable": ["head", "g4", "g3"]},
        ],
        strategy_=SimpleNamespace(stop=4),
    )
    best = SimpleNamespace(candidate=1e-3, score=-0.25)
    ctx = SimpleNamespace(profile=SimpleNamespace(lrs=(1e-3, 1e-4)), metric="auc")
    params = {"validation_fraction": 0.2, "patience": 2, "max_epochs": 5}
    sel = finetune_selection(ctx, clf, best, params, grouped=True)
    assert sel["inner_loss"] == 0.25 and sel["inner_score"] == 0.8
    assert sel["lrs_tried"] == [1e-3, 1e-4]
    # the restored epoch's trainable groups (not the last epoch's), of at most 4
    assert (sel["groups_at_best"], sel["groups_max"]) == (1, 4)
    assert sel["scheme"] == (
        "20% of the training images held out, patient-grouped "
        "for early stopping and the learning rate"
    )


def test_curve_record_names_the_point():
    cell = SimpleNamespace(
        key="k1",
        id="r / a / seed 0",
        backbone="r",
        seed=0,
        settings={"x": 1},
        approach=SimpleNamespace(name="a", category="hybrid"),
    )
    point = SimpleNamespace(cell=cell, size=0.5, repeat=1, n_train=40)
    record = _curve_record(point, "run1", {"auc": 0.9})
    assert record["type"] == "curve" and record["key"] == "k1"
    assert record["cell_id"] == "r / a / seed 0 / 40 training images (repeat 2)"
    assert record["n_train"] == 40 and record["auc"] == 0.9
    assert record["run_id"] == "run1"
