"""scikit-learn's estimator checks that need no tabular data, on every estimator.

scikit-learn's common checks feed 2-D numeric tables, which the image
estimators cannot take; the checks below only need the estimator itself (clone,
get/set params, nothing set in ``__init__``, default construction), plus, on
each estimator's own kind of input, a fitted pickle round trip, clone
invariance, ``NotFittedError`` before ``fit`` and no parameter changed by
``fit``.

"Every estimator" is found, not listed: :func:`discover_estimators` walks the
package as ``sklearn.utils.discovery.all_estimators`` walks scikit-learn, and
a test fails when it finds a class that has no builder below (or misses one
that is known), so a new estimator cannot escape these checks.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import joblib
import numpy as np
import pytest
from PIL import Image
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.utils import estimator_checks as checks
from sklearn.utils import get_tags

import skmedtl
from skmedtl import (
    CNNFeatures,
    FineTuneClassifier,
    ImageLoader,
    TransferStudy,
    VolumeFeatures,
    make_hybrid,
)
from skmedtl.hybrid import LabelEncodedClassifier, TunedClassifier
from skmedtl.metrics import ProbabilityCalibrator, TemperatureScaling
from skmedtl.study import MultiLabelStudyModel, StudyModel
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


def _table():
    """A small tabular problem (12 rows, 20 features) for the non-image estimators."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 20))
    return X, np.array([0, 1] * 6)


def _study_model():
    # a study's saved model wraps any fitted classifier: no study is needed
    X, y = _table()
    calibrator = ProbabilityCalibrator("sigmoid").fit(np.linspace(0.1, 0.9, 12), y)
    return StudyModel(
        LogisticRegression().fit(X, y), calibrator=calibrator, threshold=0.4
    )


def _multilabel_study_model():
    X, y = _table()
    heads = MultiOutputClassifier(LogisticRegression()).fit(X, np.c_[y, 1 - y])
    return MultiLabelStudyModel(heads, labels=["a", "b"], thresholds=[0.5, 0.4])


#: A builder for every estimator class of skmedtl, keyed by the class name.
ESTIMATORS = {
    "CNNFeatures": lambda: tiny_features("lenet5"),
    "VolumeFeatures": lambda: VolumeFeatures(tiny_features("lenet5"), axis=0, step=4),
    "ImageLoader": lambda: ImageLoader(intensity="minmax"),
    "FineTuneClassifier": _finetune,
    "LabelEncodedClassifier": lambda: LabelEncodedClassifier(LogisticRegression()),
    "HybridPipeline": lambda: make_hybrid("lenet5", "logreg", **TINY),
    "TunedClassifier": lambda: TunedClassifier(
        LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, random_state=0
    ),
    "ProbabilityCalibrator": lambda: ProbabilityCalibrator("sigmoid"),
    "TemperatureScaling": TemperatureScaling,
    "StudyModel": _study_model,
    "MultiLabelStudyModel": _multilabel_study_model,
}
#: Estimators that are frozen by design: already fitted when built, ``clone``
#: returns the object itself (as scikit-learn's FrozenEstimator).
FROZEN = {"StudyModel", "MultiLabelStudyModel"}


def discover_estimators() -> dict[str, type]:
    """Every public estimator class of skmedtl, as ``all_estimators()`` finds them.

    Walks every public module (no ``._`` in its name) of the package and keeps
    the classes with a public name that derive from ``BaseEstimator`` and are
    defined in skmedtl.
    """
    found = {}
    for info in pkgutil.walk_packages(skmedtl.__path__, "skmedtl."):
        if "._" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                not name.startswith("_")
                and issubclass(cls, BaseEstimator)
                and cls.__module__.startswith("skmedtl.")
                and not inspect.isabstract(cls)
            ):
                found[name] = cls
    return found


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
    if name in ("TunedClassifier", "StudyModel", "MultiLabelStudyModel"):
        X, y = _table()
        return X, y, "predict_proba"
    if name == "ProbabilityCalibrator":
        return np.linspace(0.05, 0.95, 12), y, "predict_proba"
    if name == "TemperatureScaling":
        return (
            np.column_stack([-np.arange(12.0), np.arange(12.0)]) / 4,
            y,
            ("predict_proba"),
        )
    if name in ("FineTuneClassifier", "HybridPipeline"):
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


KNOWN = {
    "CNNFeatures",
    "VolumeFeatures",
    "ImageLoader",
    "FineTuneClassifier",
    "LabelEncodedClassifier",
    "HybridPipeline",
    "TunedClassifier",
    "ProbabilityCalibrator",
    "TemperatureScaling",
    "StudyModel",
    "MultiLabelStudyModel",
}


def test_the_walk_finds_every_estimator_and_each_has_a_builder():
    found = discover_estimators()
    assert KNOWN <= set(found), f"the walk missed {sorted(KNOWN - set(found))}"
    assert set(found) == set(ESTIMATORS), (
        f"estimators without a builder in ESTIMATORS: "
        f"{sorted(set(found) - set(ESTIMATORS))}"
    )
    for name, cls in found.items():
        assert type(ESTIMATORS[name]()) is cls, name


def _describe(value):
    """A parameter as data: a nested estimator by its own parameters (not its
    fitted state, which a Pipeline's steps legitimately gain in fit)."""
    if isinstance(value, BaseEstimator):
        params = value.get_params(deep=False)
        return type(value).__name__, {k: _describe(v) for k, v in params.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_describe(v) for v in value]
    return joblib.hash(value)


def _param_hashes(estimator) -> dict:
    return {k: _describe(v) for k, v in estimator.get_params(deep=False).items()}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_clone_keeps_the_parameters(name):
    estimator = ESTIMATORS[name]()
    copy = clone(estimator)
    assert _param_hashes(copy) == _param_hashes(estimator)
    # frozen models are their own clone; every other clone is a new object
    assert (copy is estimator) == (name in FROZEN)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_not_fitted_error_before_fit(name, tmp_path, gray_images):
    X, _, method = _data(name, tmp_path, gray_images)
    estimator = ESTIMATORS[name]()
    if not get_tags(estimator).requires_fit:
        assert name == "ImageLoader"  # stateless: it reads files, fit is a no-op
        return
    with pytest.raises(NotFittedError):
        getattr(estimator, method)(X)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_fit_does_not_change_the_parameters(name, tmp_path, gray_images):
    X, y, _ = _data(name, tmp_path, gray_images)
    estimator = ESTIMATORS[name]()
    before = _param_hashes(estimator)
    estimator.fit(X, y)
    assert _param_hashes(estimator) == before


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
