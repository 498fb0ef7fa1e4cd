"""The selection's disclosed optimism and the paired validation difference."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from skmedtl.metrics import pooled_delong_test
from skmedtl.study._stats import (
    compare_configurations,
    selection_disclosure,
    validation_difference,
)


def _groups(rng, n_val=60, n_test=80, seeds=2, strengths=(1.0, 0.8, 0.6)):
    y_val = np.repeat([0, 1], n_val // 2)
    y_test = np.repeat([0, 1], n_test // 2)

    def proba(y, s):
        p = 1 / (1 + np.exp(-(s * (2 * y - 1) + rng.normal(0, 1, len(y)))))
        return np.column_stack([1 - p, p])

    groups = {}
    for j, s in enumerate(strengths):
        groups[f"c{j}"] = [
            {
                "val_y": y_val.tolist(),
                "val_proba": proba(y_val, s).tolist(),
                "y_true": y_test.tolist(),
                "test_proba": proba(y_test, s).tolist(),
            }
            for _ in range(seeds)
        ]
    return groups


def _val_auc(records):
    y = np.asarray(records[0]["val_y"])
    return np.mean(
        [roc_auc_score(y, np.asarray(r["val_proba"])[:, 1]) for r in records]
    )


def test_validation_difference_is_the_paired_seed_mean_difference():
    groups = _groups(np.random.default_rng(0))
    d = validation_difference(groups, "c2", "c0", "auc", 200)
    expected = _val_auc(groups["c2"]) - _val_auc(groups["c0"])
    assert np.isclose(d["difference"], expected)
    assert d["ci_low"] < d["difference"] < d["ci_high"]
    # the difference of a configuration with itself is exactly zero
    same = validation_difference(groups, "c0", "c0", "auc", 200)
    assert same["difference"] == same["ci_low"] == same["ci_high"] == 0.0


def test_selection_disclosure_names_the_selected_and_its_optimism():
    groups = _groups(np.random.default_rng(1), strengths=(0.7, 0.7, 0.7, 0.7))
    order = list(groups)
    out = selection_disclosure(groups, order, "auc")
    aucs = {c: _val_auc(groups[c]) for c in order}
    assert out["selected"] == max(aucs, key=aucs.get)
    assert np.isclose(out["validation_score"], max(aucs.values()))
    assert np.isclose(out["optimism"], out["validation_score"] - out["corrected"])
    assert out["optimism"] > 0  # equal configurations: the winner is optimistic
    assert np.isclose(sum(out["selection_rates"].values()), 1.0)
    assert selection_disclosure(groups, order, "accuracy") is None
    assert selection_disclosure(groups, order[:1], "auc") is None


def test_delong_tests_the_mean_of_per_seed_aucs():
    groups = _groups(np.random.default_rng(2), seeds=3)
    rows = {r["config"]: r for r in compare_configurations(groups, "c0", "auc", 50)}
    y = np.asarray(groups["c0"][0]["y_true"])

    def scores(c):
        return np.column_stack([np.asarray(r["test_proba"])[:, 1] for r in groups[c]])

    for c in ("c1", "c2"):
        expected = pooled_delong_test(y, scores("c0"), scores(c))
        assert np.isclose(rows[c]["p_delong"], expected.p_value)
        per_seed = [
            roc_auc_score(y, scores("c0")[:, s]) - roc_auc_score(y, scores(c)[:, s])
            for s in range(3)
        ]
        assert np.isclose(expected.difference, np.mean(per_seed))
        assert np.isclose(rows[c]["difference"], np.mean(per_seed))
