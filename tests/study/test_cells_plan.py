"""Cell settings and keys: what each cell's result depends on, and run order."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from skmedtl.study import get_profile, parse_approach
from skmedtl.study._cells import Cell
from skmedtl.study._cost import embedding_settings
from skmedtl.study._plan import cell_settings, check_lrs, plan_cells
from skmedtl.study._run import CellTask, failure_record, now

COMMON = {"dataset": "d", "weights": "imagenet", "metric": "auc"}
PROFILE = get_profile("quick").replace(backbones=("a", "b"))


def test_frozen_approaches_run_first_within_each_backbone_and_seed():
    approaches = [parse_approach(n) for n in ("full", "hybrid-svm", "fine_tune:1")]
    cells = plan_cells(COMMON, PROFILE, approaches, [0, 1])
    assert [c.id for c in cells[:3]] == [
        "a / hybrid-svm / seed 0",
        "a / full / seed 0",
        "a / fine_tune:1 / seed 0",
    ]
    assert len(cells) == 12 and cells[-1].id == "b / fine_tune:1 / seed 1"
    assert len({c.key for c in cells}) == 12


def test_hybrid_cells_depend_on_their_grid_trained_cells_on_epochs():
    hybrid = cell_settings(COMMON, PROFILE, "a", parse_approach("hybrid-svm"), 0)
    trained = cell_settings(COMMON, PROFILE, "a", parse_approach("full"), 0)
    assert "grid" in hybrid and "max_epochs" not in hybrid
    assert trained["max_epochs"] == PROFILE.max_epochs and "grid" not in trained
    assert trained["input_size"] == PROFILE.train_input_size


def test_random_init_cells_never_use_pretrained_weights():
    settings = cell_settings(COMMON, PROFILE, "a", parse_approach("random_init"), 0)
    assert settings["weights"] is None


def test_a_changed_epoch_budget_changes_only_trained_cells():
    longer = PROFILE.replace(max_epochs=PROFILE.max_epochs + 1)
    approaches = [parse_approach(n) for n in ("hybrid-logreg", "full")]
    before = plan_cells(COMMON, PROFILE, approaches, [0])
    after = plan_cells(COMMON, longer, approaches, [0])
    assert before[0].key == after[0].key and before[1].key != after[1].key


def test_embeddings_depend_on_the_seed_only_with_random_weights():
    cell = Cell("a", parse_approach("hybrid-svm"), 3, {"weights": "imagenet"}, "k")
    ctx = SimpleNamespace(profile=PROFILE, weights="imagenet")
    assert embedding_settings(ctx, cell, "fp")["seed"] is None
    ctx = SimpleNamespace(profile=PROFILE, weights=None)
    assert embedding_settings(ctx, cell, "fp")["seed"] == 3


@pytest.mark.parametrize("lrs", [[], [0.0], [-1e-3], "fast", [1e-3, None]])
def test_learning_rates_must_be_positive(lrs):
    with pytest.raises(ValueError, match="lrs must be positive"):
        check_lrs(lrs)


def test_failure_records_carry_the_error_and_a_utc_time():
    task = CellTask("k", "a / full / seed 0", len, ())
    record = failure_record(task, KeyError("x"), "run1")
    assert record["error"] == "KeyError: 'x'" and record["key"] == "k"
    assert record["time"].endswith("+00:00") and now().endswith("+00:00")
