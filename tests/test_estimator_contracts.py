"""scikit-learn's estimator checks that need no tabular data, on every estimator.

scikit-learn's common checks feed 2-D numeric tables, which the image
estimators cannot take; the checks below only need the estimator itself (clone,
get/set params, nothing set in ``__init__``, default construction), plus a
fitted pickle round trip on each estimator's own kind of input.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import estimator_checks as checks

from skmedtl import (
    CNNFeatures,
    FineTuneClassifier,
    ImageLoader,
    TransferStudy,
    VolumeFeatures,
    make_hybrid,
)
from skmedtl.hybrid import LabelEncodedClassifier
from tests.conftest import tiny_features

TINY = dict(weights=None, random_state=0, input_size=32, verbose=0)


def _finetune():
    return FineTuneClassifier(
        "lenet5",
        strategy="fine_tune",
        max_epochs=1,
        batch_size=8,
        early_stopping=False,
        validation_fraction=None,
        device="cpu",
        **TINY,
    )


ESTIMATORS = {
    "CNNFeatures": lambda: tiny_features("lenet5"),
    "VolumeFeatures": lambda: VolumeFeatures(tiny_features("lenet5"), axis=0, step=4),
    "ImageLoader": lambda: ImageLoader(intensity="minmax"),
    "FineTuneClassifier": _finetune,
    "LabelEncodedClassifier": lambda: LabelEncodedClassifier(LogisticRegression()),
    "hybrid pipeline": lambda: make_hybrid("lenet5", "logreg", **TINY),
}
#: Estimators that can be built with no argument at all.
DEFAULT_CONSTRUCTIBLE = {
    "CNNFeatures": CNNFeatures,
    "VolumeFeatures": VolumeFeatures,
    "ImageLoader": ImageLoader,
    "FineTuneClassifier": FineTuneClassifier,
}
PARAMETER_CHECKS = [
    checks.check_no_attributes_set_in_init,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_mixin_order,
    checks.check_valid_tag_types,
]


@pytest.mark.parametrize("check", PARAMETER_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_scikit_learn_parameter_checks(name, check):
    check(name, ESTIMATORS[name]())


@pytest.mark.parametrize("name", list(DEFAULT_CONSTRUCTIBLE))
def test_default_constructible(name):
    estimator = DEFAULT_CONSTRUCTIBLE[name]()
    checks.check_parameters_default_constructible(name, estimator)


def _data(name, tmp_path, gray_images):
    """``(X, y, output)`` for each estimator: its own kind of input."""
    y = np.array([0, 1] * 6)
    if name == "VolumeFeatures":
        volumes = np.stack([gray_images[i : i + 8] for i in range(3)])
        return volumes, None, "transform"
    if name == "ImageLoader":
        paths = []
        for i, image in enumerate(gray_images[:3]):
            paths.append(str(tmp_path / f"{i}.png"))
            Image.fromarray(image).save(paths[-1])
        return paths, None, "transform"
    if name == "LabelEncodedClassifier":
        X = gray_images.reshape(len(gray_images), -1)[:, :20] / 255.0
        return X, np.array(["a", "b"] * 6), "predict_proba"
    if name in ("FineTuneClassifier", "hybrid pipeline"):
        return gray_images, y, "predict_proba"
    return gray_images, None, "transform"


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_fitted_estimator_pickles_to_the_same_output(name, tmp_path, gray_images):
    X, y, method = _data(name, tmp_path, gray_images)
    estimator = ESTIMATORS[name]().fit(X, y)
    expected = getattr(estimator, method)(X)
    loaded = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_allclose(
        getattr(loaded, method)(X), expected, rtol=1e-5, atol=1e-6
    )
    # a clone is unfitted and has the same parameters
    fresh = clone(estimator)
    assert (
        fresh.get_params(deep=False).keys() == estimator.get_params(deep=False).keys()
    )


def test_transfer_study_stores_its_parameters_verbatim(tmp_path):
    # not a scikit-learn estimator (it runs a whole study), but clone-safe alike:
    # __init__ stores the arguments and nothing else
    backbones = ["lenet5"]
    study = TransferStudy("data", tmp_path, backbones=backbones, seeds=2)
    assert study.backbones is backbones
    params = TransferStudy._parameter_constraints.keys() | {
        "dataset",
        "seeds",
        "pos_label",
        "groups",
        "groups_csv",
        "approaches",
    }
    assert set(vars(study)) <= params | {"profile"}
