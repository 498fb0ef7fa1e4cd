"""The one table of hybrid-head hyperparameter grids.

Keys are parameters of the classifier :func:`~skmedtl.hybrid.hybrid_head`
returns (``"C"`` of the logistic regression, ``"estimator__C"`` of the
calibrated SVM, ...); a pipeline prefixes them with its step name
(:func:`head_grid` with ``prefix="clf__"``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GRID_SIZES", "HEAD_GRIDS", "TUNE_GRIDS", "head_grid"]

#: Hyperparameter grids of the hybrid heads, by size:
#:
#: - ``"tune"``: the ``C`` values the self-tuning heads (``make_hybrid(tune=True)``,
#:   :class:`~skmedtl.hybrid.TunedClassifier`) try: 13 log-spaced values for the
#:   logistic regression (cheap fits), 4 for the calibrated SVM (each value costs
#:   6 SVC fits per fold); the tree heads are not self-tuning.
#: - ``"small"`` and ``"full"``: the study's grids (a profile's ``head_grid``),
#:   searched by inner cross-validation of the training images.
HEAD_GRIDS = {
    "tune": {
        "logreg": {"C": [float(c) for c in 10.0 ** np.arange(-4.0, 2.5, 0.5)]},
        "svm": {"estimator__C": [0.1, 1.0, 10.0, 100.0]},
    },
    "small": {
        "svm": {"estimator__C": [0.1, 1.0, 10.0]},
        "logreg": {"C": [0.01, 0.1, 1.0]},
        "rf": {"min_samples_leaf": [1, 5]},
        "xgboost": {"estimator__max_depth": [2, 4]},
    },
    "full": {
        "svm": {
            "estimator__C": [0.01, 0.1, 1.0, 10.0, 100.0],
            "estimator__gamma": ["scale", "auto"],
        },
        "logreg": {"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
        "rf": {
            "max_features": ["sqrt", 0.1],
            "min_samples_leaf": [1, 3, 10],
        },
        "xgboost": {
            "estimator__max_depth": [2, 4, 6],
            "estimator__learning_rate": [0.05, 0.1],
        },
    },
}
#: The sizes of :data:`HEAD_GRIDS`.
GRID_SIZES = tuple(HEAD_GRIDS)
#: The self-tuning heads' grids: ``HEAD_GRIDS["tune"]`` (the same object).
TUNE_GRIDS = HEAD_GRIDS["tune"]


def head_grid(head: str, size: str, prefix: str = "") -> dict:
    """A copy of the grid of ``head`` at ``size``, its keys prefixed.

    Parameters
    ----------
    head : {"svm", "logreg", "rf", "xgboost"}
    size : {"tune", "small", "full"}
    prefix : str, default=""
        Put before every key: ``"clf__"`` for a pipeline whose head step is
        ``clf`` (:func:`~skmedtl.hybrid.head_pipeline`).

    Returns
    -------
    dict
        Parameter name to a new list of values.

    Examples
    --------
    >>> from skmedtl.hybrid import head_grid
    >>> head_grid("logreg", "small", prefix="clf__")
    {'clf__C': [0.01, 0.1, 1.0]}
    """
    if size not in HEAD_GRIDS:
        raise ValueError(f"size must be one of {GRID_SIZES}; got {size!r}.")
    grids = HEAD_GRIDS[size]
    if head not in grids:
        raise ValueError(
            f"The {size!r} grids have no head {head!r}; they have {sorted(grids)}."
        )
    return {prefix + k: list(v) for k, v in grids[head].items()}
