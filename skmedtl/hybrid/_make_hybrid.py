"""The feature-extractor hybrid: frozen CNN features + a classical classifier."""

from __future__ import annotations

import numbers

from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .._constants import HEADS
from ..features import CNNFeatures
from ..utils._naming import did_you_mean
from ..utils._validation import Check, Interval, StrOptions, validate_params
from ._label_encoding import LabelEncodedClassifier

__all__ = ["HEADS", "hybrid_head", "make_hybrid"]

#: Names of the hybrid heads (:func:`hybrid_head`): RBF SVM, logistic
#: regression, random forest, XGBoost.
_UNSCALED = ("rf", "xgboost")  # trees do not care about feature scale


def _check_classifier(head) -> None:
    if not (hasattr(head, "fit") and is_classifier(head)):
        raise TypeError(
            f"head must be one of {HEADS} or a scikit-learn classifier; got {head!r}."
        )


#: What make_hybrid's own arguments accept (``**feature_params`` go to
#: CNNFeatures, which checks them in ``fit``).
_MAKE_HYBRID_CONSTRAINTS = {
    "backbone": [str],
    "head": [StrOptions(HEADS), Check(_check_classifier, "a scikit-learn classifier")],
    "scale": ["boolean", StrOptions(("auto",))],
    "class_weight": [None, StrOptions(("balanced",)), dict],
    "random_state": ["random_state"],
    "n_jobs": [Interval(numbers.Integral), None],
}


def hybrid_head(
    name: str, *, class_weight=None, random_state=None, n_jobs: int | None = None
):
    """The classifier a hybrid pipeline uses for ``name``, with skmedtl's defaults.

    Parameters
    ----------
    name : {"svm", "logreg", "rf", "xgboost"}
        ``"svm"``: RBF ``SVC`` with probabilities from a sigmoid calibration fitted
        by internal 5-fold CV (``CalibratedClassifierCV(SVC(), ensemble=False)``;
        scikit-learn deprecates ``SVC(probability=True)``). ``"logreg"``:
        ``LogisticRegression``. ``"rf"``: a 500-tree random forest. ``"xgboost"``:
        gradient-boosted trees (the ``xgboost`` extra), on the GPU when one is
        present.
    class_weight : dict, "balanced" or None, default=None
        Passed to the classifier (as sample weights for XGBoost).
    random_state : int or None
    n_jobs : int or None
        Parallel jobs for the forest and XGBoost.

    Returns
    -------
    classifier

    Examples
    --------
    >>> from skmedtl.hybrid import hybrid_head
    >>> hybrid_head("rf", class_weight="balanced", random_state=0)
    RandomForestClassifier(class_weight='balanced', n_estimators=500, random_state=0)
    """
    validate_params({"head": name}, {"head": [StrOptions(HEADS)]})
    if name == "svm":
        return CalibratedClassifierCV(
            SVC(class_weight=class_weight), ensemble=False, cv=5
        )
    if name == "logreg":
        return LogisticRegression(
            max_iter=5000, class_weight=class_weight, random_state=random_state
        )
    if name == "rf":
        return RandomForestClassifier(
            n_estimators=500,
            class_weight=class_weight,
            n_jobs=n_jobs,
            random_state=random_state,
        )
    if name == "xgboost":
        return LabelEncodedClassifier(
            _xgboost(random_state, n_jobs), class_weight=class_weight
        )


def _xgboost(random_state, n_jobs):
    try:
        from xgboost import XGBClassifier
    except ImportError as e:
        raise ImportError(
            "head='xgboost' needs XGBoost: pip install \"skmedtl[xgboost]\""
        ) from e
    import torch

    return XGBClassifier(
        n_estimators=300,
        max_depth=4,
        learning_rate=0.1,
        subsample=0.8,
        colsample_bytree=0.5,
        tree_method="hist",
        device="cuda" if torch.cuda.is_available() else "cpu",
        random_state=0 if random_state is None else random_state,
        # XGBoost's OpenMP pool fights PyTorch's after a CNN has run in the same
        # process (5.8 s instead of 0.1 s for a small fit here): one thread
        # unless asked.
        n_jobs=1 if n_jobs is None else n_jobs,
    )


def make_hybrid(
    backbone: str = "efficientnet_lite0",
    head="svm",
    *,
    scale: bool | str = "auto",
    class_weight=None,
    random_state=None,
    n_jobs: int | None = None,
    **feature_params,
) -> Pipeline:
    """A ``Pipeline`` of frozen CNN features, a scaler and a classifier.

    The review's *feature-extractor hybrid*: ``CNNFeatures`` → ``StandardScaler``
    (where the head needs one) → SVM / logistic regression / random forest /
    XGBoost. The steps are named ``"features"``, ``"scale"`` and ``"clf"``, so
    grids read ``{"features__backbone": [...], "clf__C": [...]}``.

    Parameters
    ----------
    backbone : str, default="efficientnet_lite0"
        See :func:`skmedtl.list_backbones`.
    head : {"svm", "logreg", "rf", "xgboost"} or classifier, default="svm"
        A name (see :func:`hybrid_head`) or any scikit-learn classifier.
    scale : bool or "auto", default="auto"
        Standardise features before the head; ``"auto"`` does so except for the
        tree heads (``"rf"``, ``"xgboost"``).
    class_weight : dict, "balanced" or None, default=None
        For named heads.
    random_state : int or None
        Seeds the head (and ``CNNFeatures`` random weights, if ``weights=None``).
    n_jobs : int or None
        Parallel jobs of the head.
    **feature_params
        Parameters of :class:`~skmedtl.CNNFeatures` (``weights``, ``cache_path``,
        ``batch_size``, ``device``, ``input_size``, ``verbose``, ...).

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> from skmedtl import make_hybrid
    >>> make_hybrid("resnet18", "logreg", weights=None).named_steps["clf"]
    LogisticRegression(max_iter=5000)
    """
    validate_params(
        {
            "backbone": backbone,
            "head": head,
            "scale": scale,
            "class_weight": class_weight,
            "random_state": random_state,
            "n_jobs": n_jobs,
        },
        _MAKE_HYBRID_CONSTRAINTS,
    )
    allowed = CNNFeatures().get_params()
    for key in feature_params:
        if key not in allowed or key == "backbone":
            raise TypeError(
                f"make_hybrid() got an unexpected keyword argument {key!r}."
                f"{did_you_mean(key, allowed)} Keyword arguments go to CNNFeatures: "
                f"{sorted(set(allowed) - {'backbone'})}."
            )
    if random_state is not None and "random_state" not in feature_params:
        feature_params["random_state"] = random_state
    if isinstance(head, str):
        name = head
        clf = hybrid_head(
            head, class_weight=class_weight, random_state=random_state, n_jobs=n_jobs
        )
    else:
        name = None
        clf = clone(head)
    if scale == "auto":
        scale = name not in _UNSCALED
    return Pipeline(
        [
            ("features", CNNFeatures(backbone, **feature_params)),
            ("scale", StandardScaler() if scale else "passthrough"),
            ("clf", clf),
        ]
    )
