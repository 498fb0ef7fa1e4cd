"""Like for like by default: one input size for every approach of a study (#28)."""

from __future__ import annotations

import pytest

from skmedtl.study import PROFILES, TransferStudy, get_profile, parse_approach
from skmedtl.study._plan import cell_settings, input_sizes, profile_overrides

from .conftest import make_images

COMMON = {"dataset": "d", "weights": "imagenet", "metric": "auc"}
#: One approach of each family: hybrid, linear head, trained.
FAMILIES = ("hybrid-svm", "feature_extractor", "full", "random_init")


def _sizes(profile) -> dict:
    return {
        name: cell_settings(COMMON, profile, "b", parse_approach(name), 0)["input_size"]
        for name in FAMILIES
    }


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_gives_every_approach_the_same_input_size(name):
    assert len(set(_sizes(get_profile(name)).values())) == 1


def test_the_quick_profile_runs_everything_at_64_px():
    assert set(_sizes(get_profile("quick")).values()) == {64}


@pytest.mark.parametrize(
    "params, frozen, trained",
    [
        ({}, 64, 64),
        ({"input_size": 128}, 128, 128),
        ({"input_size": "native"}, None, None),
        ({"train_input_size": 32}, 64, 32),
        ({"train_input_size": "native"}, 64, None),
        ({"input_size": 128, "train_input_size": 32}, 128, 32),
        ({"input_size": "native", "train_input_size": 96}, None, 96),
        ({"input_size": None, "train_input_size": None}, 64, 64),
    ],
)
def test_input_size_sets_every_approach_and_train_input_size_asks_otherwise(
    params, frozen, trained
):
    sizes = _sizes(profile_overrides(get_profile("quick"), params))
    assert sizes == {
        "hybrid-svm": frozen,
        "feature_extractor": frozen,
        "full": trained,
        "random_init": trained,
    }


def test_input_sizes_change_only_what_was_given():
    assert input_sizes({"max_epochs": 3}) == {}
    assert input_sizes({"train_input_size": 48}) == {"train_input_size": 48}


def test_a_size_given_to_the_study_reaches_every_cell(tiny_npz, tmp_path):
    """input_size alone: frozen and trained cells are planned at the same size."""
    study = TransferStudy(
        tiny_npz,
        tmp_path / "out",
        backbones=["lenet5"],
        approaches=["hybrid-logreg", "feature_extractor", "full"],
        weights=None,
        input_size=24,
        verbose=0,
    )
    study.plan()
    assert {c.approach.name: c.settings["input_size"] for c in study.cells_} == {
        "hybrid-logreg": 24,
        "feature_extractor": 24,
        "full": 24,
    }


@pytest.mark.slow
def test_a_size_asked_otherwise_is_flagged_in_the_table_and_the_methods(
    tmp_path,
):
    """train_input_size unlike input_size: the trained row carries the flag."""
    import numpy as np

    from skmedtl.study import StudyDataset

    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], 26)
    data = StudyDataset.from_arrays(
        make_images(rng, labels),
        labels,
        split=np.repeat(["train", "val", "test"], [24, 12, 16]),
    )
    results = TransferStudy(
        data,
        tmp_path / "out",
        backbones=["lenet5"],
        approaches=["hybrid-logreg", "feature_extractor", "full"],
        weights=None,
        input_size=40,
        train_input_size=32,
        max_epochs=1,
        n_bootstraps=20,
        n_threads=1,
        save="none",
        verbose=0,
    ).run()
    cells = {c["approach"]: c["input_size"] for c in results.cells}
    assert cells["hybrid-logreg"] == cells["feature_extractor"] != cells["full"]
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "‡ input size differs from the other rows'" in report
    flagged = [line for line in report.splitlines() if " ‡ |" in line]
    assert len(flagged) == 1 and "full" in flagged[0]
    assert "32 x 32 pixels for full" in report
    assert "40 x 40 pixels for hybrid-logreg, feature_extractor" in report
    assert "Approaches saw different input sizes" in report
