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
from ._grids import TUNE_GRIDS
from ._label_encoding import LabelEncodedClassifier
from ._multilabel import HybridPipeline
from ._tuned import TunedClassifier

__all__ = ["HEADS", "head_pipeline", "hybrid_head", "make_hybrid"]

_UNSCALED = ("rf", "xgboost")  # trees do not care about feature scale


def _check_classifier(head) -> None:
    if not (hasattr(head, "fit") and is_classifier(head)):
        raise TypeError(
            f"head must be one of {HEADS} or a scikit-learn classifier; got {head!r}."
        )


def scales_features(name: str) -> bool:
    """Whether the head ``name`` gets a ``StandardScaler`` (trees do not)."""
    return name not in _UNSCALED


def head_pipeline(
    name: str,
    *,
    class_weight=None,
    random_state=None,
    n_jobs: int | None = None,
    multilabel: bool = False,
):
    """The head of a hybrid on precomputed embeddings: ``scale`` then ``clf``.

    The one builder of a head pipeline (the study's hybrid cells use it):
    a ``StandardScaler`` except for tree heads, then :func:`hybrid_head`, one
    per label (``MultiOutputClassifier``) with ``multilabel``. The SVM's
    sigmoid-calibration folds are shuffled by ``random_state`` for one label
    per image; multi-label SVM heads keep unshuffled folds (as the study's
    earlier results did).

    Parameters
    ----------
    name : {"svm", "logreg", "rf", "xgboost"}
    class_weight, random_state, n_jobs
        As in :func:`hybrid_head`.
    multilabel : bool, default=False

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` and ``clf``; its grid parameters are ``clf__...``
        (``clf__estimator__...`` with ``multilabel``).
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.pipeline import Pipeline

    clf = hybrid_head(
        name, class_weight=class_weight, random_state=random_state, n_jobs=n_jobs
    )
    if name == "svm" and not multilabel:  # the seed also draws the folds
        clf.set_params(cv=StratifiedKFold(5, shuffle=True, random_state=random_state))
    if multilabel:
        clf = MultiOutputClassifier(clf)
    scale = StandardScaler() if scales_features(name) else "passthrough"
    return Pipeline([("scale", scale), ("clf", clf)])


#: What make_hybrid's own arguments accept (``**feature_params`` go to
#: CNNFeatures, which checks them in ``fit``).
_MAKE_HYBRID_CONSTRAINTS = {
    "backbone": [str],
    "head": [StrOptions(HEADS), Check(_check_classifier, "a scikit-learn classifier")],
    "scale": ["boolean", StrOptions(("auto",))],
    "class_weight": [None, StrOptions(("balanced",)), dict],
    "random_state": ["random_state"],
    "n_jobs": [  # joblib: 0 has no meaning
        Interval(numbers.Integral, 1),
        Interval(numbers.Integral, None, -1),
        None,
    ],
    "tune": ["boolean"],
}


def hybrid_head(
    name: str,
    *,
    class_weight=None,
    random_state=None,
    n_jobs: int | None = None,
    tune: bool = False,
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
        Parallel jobs for the forest and XGBoost (and the tuning search).
    tune : bool, default=False
        For ``"logreg"`` and ``"svm"``: wrap the head in a
        :class:`TunedClassifier` that chooses ``C`` over ``TUNE_GRIDS[name]``
        inside the training data, scored by log-loss: approximate
        leave-one-out for a binary logistic regression with no more images
        than features, else stratified 5-fold CV (group-aware when ``fit``
        gets ``groups``). Ignored for the tree heads.

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
    if tune and name in TUNE_GRIDS:
        return TunedClassifier(
            hybrid_head(
                name, class_weight=class_weight, random_state=random_state, tune=False
            ),
            TUNE_GRIDS[name],
            random_state=0 if random_state is None else random_state,
            n_jobs=n_jobs,
        )
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
    tune: bool = True,
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
    tune : bool, default=True
        ``"logreg"`` and ``"svm"`` heads choose their regularisation ``C``
        inside the training embeddings (:class:`TunedClassifier`: approximate
        leave-one-out for a binary logistic regression with no more images
        than features, else stratified 5-fold CV; the embeddings are computed
        once, so this costs only the head's fits). Give patient ids to keep a
        patient's images together: ``pipe.fit(X, y, clf__groups=groups)``.
        ``False`` keeps scikit-learn's default ``C=1``.
    **feature_params
        Parameters of :class:`~skmedtl.CNNFeatures` (``weights``, ``cache_path``,
        ``batch_size``, ``device``, ``input_size``, ``verbose``, ...).

    Returns
    -------
    HybridPipeline
        A :class:`sklearn.pipeline.Pipeline`; fitted on a 2-D indicator ``y``
        (multi-label) it fits one head per label on one shared embedding.

    Examples
    --------
    >>> from skmedtl import make_hybrid
    >>> pipe = make_hybrid("resnet18", "logreg", weights=None)
    >>> pipe.named_steps["clf"].estimator
    LogisticRegression(max_iter=5000)
    >>> make_hybrid("resnet18", "logreg", weights=None, tune=False).named_steps["clf"]
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
            "tune": tune,
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
            head,
            class_weight=class_weight,
            random_state=random_state,
            n_jobs=n_jobs,
            tune=tune,
        )
    else:
        name = None
        clf = clone(head)
    if scale == "auto":
        scale = scales_features(name)
    return HybridPipeline(  # a Pipeline; multi-label y: one head per label
        [
            ("features", CNNFeatures(backbone, **feature_params)),
            ("scale", StandardScaler() if scale else "passthrough"),
            ("clf", clf),
        ]
    )
