"""Inner folds of the training images and the choice by their mean score."""

from __future__ import annotations

import numpy as np

from skmedtl.study._tuning import inner_folds, tune_by_cv


def test_folds_partition_the_training_images_stratified():
    y = np.repeat([0, 1], [30, 20])
    folds = inner_folds(y, n_splits=5, seed=3)
    assert folds.n_splits == 5 and folds.note is None and not folds.grouped
    held = np.concatenate([te for _, te in folds.splits])
    assert sorted(held.tolist()) == list(range(50))  # each image held out once
    for tr, te in folds.splits:
        assert not set(tr) & set(te)
        assert np.bincount(y[te]).tolist() == [6, 4]  # the class balance kept
    again = inner_folds(y, n_splits=5, seed=3)  # seeded: the same folds
    assert all(
        np.array_equal(a[1], b[1])
        for a, b in zip(folds.splits, again.splits, strict=True)
    )


def test_folds_keep_patients_whole_and_shrink_for_small_classes():
    y = np.repeat([0, 1], [20, 6])
    groups = np.arange(26) // 2  # two images per patient: 3 patients of class 1
    folds = inner_folds(y, groups, n_splits=5, seed=0)
    assert folds.grouped and folds.n_splits == 3
    assert "3 inner folds instead of 5" in folds.note and "patients" in folds.note
    for tr, te in folds.splits:
        assert not set(groups[tr]) & set(groups[te])
    none = inner_folds(np.repeat([0, 1], [10, 1]), n_splits=5)
    assert none.splits == [] and none.n_splits == 0 and "not tuned" in none.note


def test_multilabel_folds_are_iteratively_stratified():
    rng = np.random.default_rng(0)
    Y = (rng.random((60, 3)) < [0.5, 0.3, 0.1]).astype(int)
    folds = inner_folds(Y, n_splits=4, seed=0)
    assert folds.n_splits == min(4, int(Y.sum(axis=0).min()))
    held = np.concatenate([te for _, te in folds.splits])
    assert sorted(held.tolist()) == list(range(60))


def test_tune_by_cv_takes_the_best_mean_first_among_equals():
    y = np.repeat([0, 1], 10)
    folds = inner_folds(y, n_splits=2, seed=0)
    fitted = []

    def fit(candidate, index):
        fitted.append((candidate, len(index)))
        return candidate

    means = {"a": 0.6, "b": 0.8, "c": 0.8}
    chosen, value = tune_by_cv(["a", "b", "c"], fit, lambda m, te: means[m], folds)
    assert chosen == "b" and value == 0.8
    assert len(fitted) == 6 and all(n == 10 for _, n in fitted)  # on fold trains
    untuned = inner_folds(np.repeat([0, 1], [5, 1]), n_splits=3)
    chosen, value = tune_by_cv(["a", "b"], fit, lambda m, te: 1.0, untuned)
    assert chosen == "a" and np.isnan(value)


def test_tune_by_cv_in_threads_fits_and_chooses_as_one_at_a_time():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + rng.normal(scale=2.0, size=120) > 0).astype(int)
    folds = inner_folds(y, n_splits=4, seed=3)

    def fit(c, index):
        return LogisticRegression(C=c).fit(X[index], y[index])

    def score(model, held_out):  # mean log-likelihood of the held-out images
        p = model.predict_proba(X[held_out])[np.arange(len(held_out)), y[held_out]]
        return float(np.mean(np.log(p)))

    grid = [1e-3, 1e-2, 1e-1, 1.0]
    expected = [
        np.mean([score(fit(c, tr), te) for tr, te in folds.splits]) for c in grid
    ]
    serial = tune_by_cv(grid, fit, score, folds)
    threaded = tune_by_cv(grid, fit, score, folds, n_jobs=2)
    assert serial == threaded  # the same value and the same score, bit for bit
    assert serial == (grid[int(np.argmax(expected))], max(expected))


def test_tune_by_cv_in_threads_keeps_the_first_among_equals_and_nan_folds():
    y = np.repeat([0, 1], 12)
    folds = inner_folds(y, n_splits=3, seed=0)
    nan_on_first_fold = {id(folds.splits[0][1])}

    def score(candidate, held_out):
        if id(held_out) in nan_on_first_fold and candidate == "b":
            return float("nan")  # a fold without a score is left out of the mean
        return {"a": 0.5, "b": 0.9, "c": 0.9}[candidate]

    chosen, value = tune_by_cv(["a", "b", "c"], lambda c, tr: c, score, folds, 3)
    assert chosen == "b" and value == 0.9


def test_a_head_refitted_on_two_threads_learns_and_predicts_as_on_one():
    from sklearn.base import clone

    from skmedtl.hybrid import head_pipeline
    from skmedtl.study._tuning import refit

    rng = np.random.RandomState(1)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
    for head in ("rf",):
        pipe = head_pipeline(head, class_weight="balanced", random_state=0, n_jobs=1)
        if head == "rf":
            pipe.set_params(clf__n_estimators=20)
        seen = []

        def fit(params, pipe=pipe, seen=seen):
            seen.append(params)
            return clone(pipe).set_params(**params).fit(X, y)

        one = refit(fit, {}, pipe, workers=1)
        two = refit(fit, {}, pipe, workers=2)
        assert seen == [{}, {"clf__n_jobs": 2}]
        assert two.get_params()["clf__n_jobs"] == pipe.get_params()["clf__n_jobs"]
        np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))


def test_out_of_bag_choice_keeps_the_chosen_forest_as_a_plain_fit():
    """The out-of-bag score is the forest's own (sklearn's oob_decision_function_,
    scored apart); the kept forest predicts exactly as one fitted without
    out-of-bag scoring, and carries no per-image out-of-bag rows."""
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    from skmedtl.study._tuning import drop_out_of_bag, tune_out_of_bag

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + rng.normal(scale=1.5, size=120) > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=60, random_state=3)
    grid = [{"min_samples_leaf": 1}, {"min_samples_leaf": 20}]

    def fit(params):
        return clone(forest).set_params(**params, oob_score=True).fit(X, y)

    def score(model):
        return roc_auc_score(y, model.oob_decision_function_[:, 1])

    params, inner, model = tune_out_of_bag(grid, fit, score, n_jobs=2)
    apart = [score(fit(p)) for p in grid]
    assert inner == max(apart) and params == grid[int(np.argmax(apart))]
    drop_out_of_bag(model)
    plain = clone(forest).set_params(**params).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), plain.predict_proba(X))
    assert not hasattr(model, "oob_decision_function_") and not model.oob_score
