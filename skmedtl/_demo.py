"""The demo job: a hybrid transfer-learning model on the bundled BreastMNIST."""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .datasets import load_breastmnist
from .features import CNNFeatures


def run_demo(
    backbone: str = "efficientnet_lite0",
    *,
    batch_size: int = 32,
    device: str = "auto",
    verbose: int = 1,
) -> dict:
    """Frozen ImageNet CNN features + SVM on BreastMNIST; returns scores and timings.

    The feature-extractor hybrid of Kim et al. (2022): embeddings from a frozen
    pretrained backbone, an RBF SVM (balanced class weights) trained on the
    official training split, scored on the official test split.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``auc``, ``n_train``, ``n_test``,
        ``n_features`` and ``seconds`` (per step).
    """
    seconds = {}
    t0 = time.perf_counter()
    X_train, y_train = load_breastmnist("train")
    X_test, y_test = load_breastmnist("test")
    seconds["load data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    features = CNNFeatures(
        backbone, batch_size=batch_size, device=device, verbose=verbose
    ).fit(X_train)
    seconds["load backbone"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    F_train = features.transform(X_train)
    F_test = features.transform(X_test)
    seconds["extract features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    head = make_pipeline(StandardScaler(), SVC(class_weight="balanced"))
    head.fit(F_train, y_train)
    seconds["train SVM"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = head.decision_function(F_test)
    predictions = head.predict(F_test)
    seconds["predict"] = time.perf_counter() - t0
    return {
        "backbone": backbone,
        "accuracy": float(accuracy_score(y_test, predictions)),
        "balanced_accuracy": float(balanced_accuracy_score(y_test, predictions)),
        "auc": float(roc_auc_score(y_test, scores)),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "n_features": int(features.n_features_out_),
        "class_counts_test": np.bincount(y_test).tolist(),
        "seconds": seconds,
    }
