"""The one grid table of the hybrid heads (self-tuning heads and the study)."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from skmedtl.hybrid import (
    GRID_SIZES,
    HEAD_GRIDS,
    TUNE_GRIDS,
    head_grid,
    head_pipeline,
    hybrid_head,
)


def test_tune_grids_are_the_tables_tune_row():
    assert TUNE_GRIDS is HEAD_GRIDS["tune"]
    assert GRID_SIZES == ("tune", "small", "full")
    assert hybrid_head("logreg", tune=True).param_grid == TUNE_GRIDS["logreg"]


@pytest.mark.parametrize("size", ["small", "full"])
@pytest.mark.parametrize("head", ["svm", "logreg", "rf"])
def test_every_key_is_a_parameter_of_the_head_and_its_pipeline(size, head):
    clf = hybrid_head(head)
    pipe = head_pipeline(head)
    grid = head_grid(head, size)
    prefixed = head_grid(head, size, prefix="clf__")
    assert prefixed == {f"clf__{k}": v for k, v in grid.items()}
    for key, values in grid.items():
        clone(clf).set_params(**{key: values[0]})  # raises for an unknown key
    for key, values in prefixed.items():
        clone(pipe).set_params(**{key: values[-1]})


def test_head_grid_returns_copies():
    grid = head_grid("rf", "small")
    grid["min_samples_leaf"].append(99)
    assert 99 not in HEAD_GRIDS["small"]["rf"]["min_samples_leaf"]


def test_unknown_size_or_head_is_named():
    with pytest.raises(ValueError, match="size must be one of.*'huge'"):
        head_grid("svm", "huge")
    with pytest.raises(ValueError, match="no head 'rf'"):
        head_grid("rf", "tune")
