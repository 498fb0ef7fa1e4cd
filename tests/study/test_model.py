"""StudyModel: the study's saved classifier, tested on a known estimator."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skmedtl.study import StudyModel


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] + rng.normal(0, 0.5, 60) > 0, "malignant", "benign")
    return LogisticRegression().fit(X, y), X


def test_the_positive_class_is_put_last_with_its_column(fitted):
    clf, X = fitted
    model = StudyModel(clf, pos_label="benign").fit()
    assert model.classes_.tolist() == ["malignant", "benign"]
    own = clf.predict_proba(X)
    np.testing.assert_allclose(model.predict_proba(X), own[:, ::-1])
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))


def test_the_operating_point_applies_to_the_positive_class(fitted):
    clf, X = fitted
    model = StudyModel(clf, pos_label="malignant", threshold=0.9).fit()
    p = clf.predict_proba(X)[:, list(clf.classes_).index("malignant")]
    expected = np.where(p >= 0.9, "malignant", "benign")
    np.testing.assert_array_equal(model.predict(X, threshold="validation"), expected)
    np.testing.assert_array_equal(
        model.predict(X, threshold=0.1), np.where(p >= 0.1, "malignant", "benign")
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"threshold": 1.5}, "probability in \\[0, 1\\]"),
        ({"pos_label": "other"}, "not one of the classes"),
        ({"class_names": ["a"]}, "1 names for 2 classes"),
        ({"classes": ["benign", "x"]}, "must be the estimator's classes"),
    ],
)
def test_bad_wrappers_are_refused(fitted, params, match):
    with pytest.raises(ValueError, match=match):
        StudyModel(fitted[0], **params).fit()


def test_threshold_requests_are_checked(fitted):
    clf, X = fitted
    model = StudyModel(clf).fit()
    with pytest.raises(ValueError, match="no operating point"):
        model.predict(X, threshold="validation")
    with pytest.raises(ValueError, match="None, 'validation' or a number"):
        model.predict(X, threshold="best")
    with pytest.raises(TypeError, match="None, 'validation' or a number"):
        model.predict(X, threshold=True)


def test_three_classes_take_no_threshold():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    clf = LogisticRegression().fit(X, np.arange(30) % 3)
    with pytest.raises(ValueError, match="two-class"):
        StudyModel(clf, threshold=0.5).fit()
    model = StudyModel(clf).fit()
    with pytest.raises(ValueError, match="two-class models"):
        model.predict(X, threshold=0.5)
    assert model.pos_label_ is None
