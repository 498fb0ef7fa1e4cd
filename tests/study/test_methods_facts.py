"""Every Methods sentence comes from what the cells recorded (issue #28).

A base study description is rendered, then each recorded fact is changed and
the paragraph (or the limitations) must change with it, saying the new fact.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from skmedtl.study._facts import method_facts
from skmedtl.study._limitations import limitations
from skmedtl.study._methods import methods_paragraph
from skmedtl.study._tuning import OUT_OF_BAG


def _cell(approach, seed=0, **extra):
    hybrid = approach.startswith("hybrid-")
    cell = {
        "cell": f"b / {approach} / seed {seed}",
        "approach": approach,
        "seed": seed,
        "input_size": [224, 224] if hybrid else [64, 64],
        "device": "cpu (2 threads)" + (", embeddings by onnxruntime" if hybrid else ""),
        "epochs": None if hybrid else 4,
        "lr": None if hybrid else 1e-3,
        "selection": {"inner_folds": 5, "inner_score": 0.9}
        if hybrid
        else {
            "lrs_tried": [1e-3],
            "max_epochs": 5,
            "patience": 2,
            "inner_fraction": 0.2,
            "inner_score": 0.8,
        },
    }
    cell.update(extra)
    return cell


def _base():
    results = SimpleNamespace(
        cells=[_cell("hybrid-logreg"), _cell("full"), _cell("feature_extractor")],
        comparisons=[{}, {}],
        recommendation=None,
        n_cells=3,
    )
    context = {
        "dataset": {
            "source": "demo",
            "n_images": 100,
            "classes": ["a", "b"],
            "counts": {
                "train": {"a": 30, "b": 30},
                "val": {"a": 10, "b": 10},
                "test": {"a": 10, "b": 10},
            },
            "test_protocol": "official",
            "groups": None,
        },
        "settings": {
            "seeds": [0],
            "n_bootstraps": 1000,
            "head_grid": "small",
            "backbones": ["b"],
            "approaches": ["hybrid-logreg", "full", "feature_extractor"],
            "weights": "imagenet",
            "device": "cpu",
        },
        "metric": "auc",
        "validation": "official",
        "n_validation": 20,
        "n_test": 20,
        "operating_point": ("youden", None),
        "calibrate": "none",
        "manifest": {
            "packages": {
                "torch": "2.0",
                "xgboost": "3.0",
                "onnxruntime": "1.2",
                "scikit-learn": "1.5",
            }
        },
    }
    return results, context


def _render(results, context) -> str:
    return (
        methods_paragraph(results, context)
        + " | "
        + " ".join(limitations(results, context))
    )


def test_base_paragraph_states_what_ran():
    text = _render(*_base())
    assert "full trained for 4 epochs (at most 5, patience 2" in text
    assert "with learning rate 0.001" in text and "chosen from" not in text
    assert "224 x 224 pixels for hybrid-logreg" in text
    assert "64 x 64 pixels for full, feature_extractor" in text
    assert "onnxruntime 1.2" in text and "xgboost" not in text  # no xgboost head
    assert "percentile bootstrap" in text and "1000 resamples" in text
    assert "each of the 2 other configurations" in text and "Holm" in text
    assert "main results table are those of the most probable class" in text
    assert "Youden" in text
    assert "5-fold stratified cross-validation inside the training" in text
    assert "different input sizes" in text  # 224 vs 64: flagged
    assert "training randomness is not in them" in text


def _changed(mutate) -> tuple[str, str]:
    results, context = _base()
    before = _render(results, context)
    results, context = copy.deepcopy(results), copy.deepcopy(context)
    mutate(results, context)
    return before, _render(results, context)


def _cells(approach):
    def pick(results):
        return [c for c in results.cells if c["approach"] == approach]

    return pick


@pytest.mark.parametrize(
    "mutate, says",
    [
        (lambda r, c: _cells("full")(r)[0].update(epochs=2), "full trained for 2 "),
        (
            lambda r, c: _cells("full")(r)[0]["selection"].update(patience=7),
            "patience 7",
        ),
        (
            lambda r, c: _cells("full")(r)[0]["selection"].update(max_epochs=9),
            "at most 9",
        ),
        (
            lambda r, c: _cells("full")(r)[0]["selection"].update(
                lrs_tried=[1e-3, 1e-4]
            ),
            "learning rate chosen from 0.001, 0.0001",
        ),
        (
            lambda r, c: _cells("full")(r)[0].update(input_size=[224, 224]),
            "224 x 224 pixels for hybrid-logreg, full",
        ),
        (
            lambda r, c: r.cells.append(_cell("hybrid-xgboost")),
            "xgboost 3.0",
        ),
        (
            lambda r, c: [x.update(device="cpu") for x in r.cells],
            "Software: torch 2.0, scikit-learn 1.5;",  # no onnxruntime ran
        ),
        (
            lambda r, c: c["settings"].update(n_bootstraps=200),
            "(200 resamples)",
        ),
        (lambda r, c: r.comparisons.append({}), "each of the 3 other"),
        (
            lambda r, c: c.update(operating_point=("sensitivity", 0.9)),
            "sensitivity >= 0.9",
        ),
        (
            lambda r, c: _cells("hybrid-logreg")(r)[0]["selection"].update(
                inner_folds=3
            ),
            "3-fold stratified cross-validation",
        ),
        (
            lambda r, c: c["settings"].update(seeds=[0, 1, 2]),
            "spread over the 3 seeds",
        ),
        (
            lambda r, c: _cells("hybrid-logreg")(r)[0].update(
                selection={"scheme": "validation split", "params": {}}
            ),
            "per-label classifier heads (logreg; grid 'small') were chosen on the "
            "validation partition",
        ),
        (
            lambda r, c: r.cells.append(
                _cell("gradual", selection={"groups_at_best": 0, "groups_max": 4})
            ),
            "gradual unfroze no backbone block group before the restored epoch",
        ),
        (
            lambda r, c: r.cells.append(
                _cell("gradual", selection={"groups_at_best": 0, "groups_max": 4})
            ),
            "gradual had no backbone block trainable at its restored epoch",
        ),
        (
            lambda r, c: _cells("full")(r)[0].update(cpu_threads=2),
            "The trained approaches ran on 2 PyTorch CPU threads; PyTorch splits "
            "its CPU sums by thread, so they reproduce on 2 (n_threads=2, "
            "--threads 2).",
        ),
        (
            lambda r, c: r.cells.extend(
                [_cell("full", seed=1, cpu_threads=1), _cell("full", cpu_threads=2)]
            ),
            "cells ran on 1 and 2 PyTorch CPU threads",
        ),
        (
            lambda r, c: r.cells.append(
                _cell(
                    "hybrid-rf",
                    selection={"scheme": OUT_OF_BAG, "inner_folds": None},
                )
            ),
            "random-forest heads (rf; grid 'small') were chosen by the out-of-bag "
            "predictions of their trees on the training partition",
        ),
        (
            lambda r, c: c["dataset"].update(image_size={"median": [224, 200]}),
            "The images (median 224 x 200 pixels) were resized down to 64 pixels "
            "on the shorter side for full, feature_extractor (3.1x smaller)",
        ),
    ],
)
def test_each_fact_changes_its_sentence(mutate, says):
    before, after = _changed(mutate)
    assert after != before
    assert says in after and says not in before


def test_one_input_size_is_not_flagged():
    results, context = _base()
    for c in results.cells:
        c["input_size"] = [224, 224]
    text = _render(results, context)
    assert "different input sizes" not in text
    assert method_facts(results).input_sizes == {
        "224 x 224 pixels": ("hybrid-logreg", "full", "feature_extractor")
    }


def test_head_only_needs_every_cell_of_the_approach_frozen():
    """One seed of gradual that unfroze a group: its approach is not head-only;
    fine_tune (groups_max > 0, never 0 at best) and feature_extractor
    (groups_max 0) never are."""
    results, _ = _base()
    results.cells += [
        _cell("gradual", seed=0, selection={"groups_at_best": 0, "groups_max": 4}),
        _cell("gradual", seed=1, selection={"groups_at_best": 1, "groups_max": 4}),
        _cell("fine_tune:2", selection={"groups_at_best": 2, "groups_max": 2}),
        _cell("feature_extractor", selection={"groups_at_best": 0, "groups_max": 0}),
    ]
    assert method_facts(results).head_only == ()
    results.cells[-3]["selection"]["groups_at_best"] = 0
    assert method_facts(results).head_only == ("gradual",)


def test_gradual_cell_records_the_groups_it_unfroze():
    """The recorded numbers come from the classifier's own epoch history: a
    one-epoch gradual fit never leaves its head-only stage; full trains all."""
    import numpy as np

    from skmedtl.finetune import FineTuneClassifier
    from skmedtl.study._finetune_history import groups_trained

    X = np.random.default_rng(0).integers(0, 256, (24, 28, 28), dtype=np.uint8)
    y = np.array([0, 1] * 12)
    common = dict(weights=None, max_epochs=1, random_state=0, verbose=0)
    gradual = FineTuneClassifier("lenet5", strategy="gradual", **common).fit(X, y)
    full = FineTuneClassifier("lenet5", strategy="full", **common).fit(X, y)
    n_groups = full.strategy_.stop
    assert n_groups >= 2
    assert groups_trained(gradual) == {"groups_at_best": 0, "groups_max": n_groups}
    assert groups_trained(full) == {
        "groups_at_best": n_groups,
        "groups_max": n_groups,
    }


def test_thread_counts_come_from_the_trained_cells_only():
    """Frozen and hybrid cells record no thread count (their numbers do not
    depend on it); a cell without the field (older records) adds nothing."""
    results, _ = _base()
    assert method_facts(results).train_threads == ()
    results.cells.append(_cell("fine_tune:2", cpu_threads=1))
    results.cells.append(_cell("gradual", cpu_threads=None))
    assert method_facts(results).train_threads == (1,)


def test_images_near_their_input_size_are_not_called_downsampled():
    results, context = _base()
    context["dataset"]["image_size"] = {"median": [28, 28], "n_sampled": 100}
    assert "resized down" not in _render(results, context)  # upsampled: 28 -> 64
    context["dataset"]["image_size"] = {"median": [127, 300], "n_sampled": 9}
    assert "resized down" not in _render(results, context)  # 127 < 2 x 64
    context["dataset"]["image_size"] = {"median": [128, 300], "n_sampled": 9}
    text = _render(results, context)
    assert "resized down to 64 pixels on the shorter side for full" in text
    assert "hybrid-logreg" not in text.split("resized down")[1].split(".")[0]
