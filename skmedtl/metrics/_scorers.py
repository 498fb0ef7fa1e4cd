"""Scorers by name for ``GridSearchCV(scoring=...)``, skmedtl's and scikit-learn's."""

from __future__ import annotations

from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import make_scorer

from ._classification import sensitivity_score, specificity_score

__all__ = ["SCORERS", "get_scorer", "make_scoring"]

#: skmedtl's scorers by name, for :func:`get_scorer` and :func:`make_scoring`:
#: sensitivity and specificity (binary, or macro / weighted averages).
SCORERS = {
    "sensitivity": make_scorer(sensitivity_score),
    "specificity": make_scorer(specificity_score),
    "sensitivity_macro": make_scorer(sensitivity_score, average="macro"),
    "specificity_macro": make_scorer(specificity_score, average="macro"),
    "sensitivity_weighted": make_scorer(sensitivity_score, average="weighted"),
    "specificity_weighted": make_scorer(specificity_score, average="weighted"),
}


def get_scorer(name):
    """A scorer by name: skmedtl's (``"sensitivity"``, ``"specificity_macro"``, ...)
    or any of scikit-learn's.

    scikit-learn checks ``scoring=`` strings against its own fixed list, so pass
    skmedtl's scorers as objects: ``scoring=get_scorer("sensitivity")``, or several
    at once with :func:`make_scoring`.

    Examples
    --------
    >>> from skmedtl.metrics import get_scorer
    >>> get_scorer("specificity")
    make_scorer(specificity_score, response_method='predict')
    """
    if isinstance(name, str) and name in SCORERS:
        return SCORERS[name]
    try:
        return _sklearn_get_scorer(name)
    except ValueError as e:
        raise ValueError(
            f"Unknown scorer {name!r}. skmedtl adds {sorted(SCORERS)} to "
            "scikit-learn's names (sklearn.metrics.get_scorer_names())."
        ) from e


def make_scoring(*names: str) -> dict:
    """A multi-metric ``scoring`` dict from names of either library.

    Examples
    --------
    >>> from skmedtl.metrics import make_scoring
    >>> sorted(make_scoring("roc_auc", "sensitivity", "specificity"))
    ['roc_auc', 'sensitivity', 'specificity']
    """
    return {name: get_scorer(name) for name in names}
