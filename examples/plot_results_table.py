"""
Reading a study's results table into plots
==========================================

A :class:`~skmedtl.study.TransferStudy` leaves two tables in its output folder:
``results.csv`` (one row per backbone x approach, seeds pooled: every metric
with its 95% confidence interval, and every cost) and ``cells.csv`` (one row
per backbone x approach x seed). They are plain CSV files, made to be read
with pandas and plotted the way a paper needs.

To have a table to read, this example first runs a small study: the frozen
feature extractor on two backbones, three seeds each (about half a minute on
a CPU; the embeddings are computed once per backbone and cached). Any study's
folder works the same way, e.g. the one ``skmedtl demo`` writes.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from skmedtl.study import TransferStudy

out_dir = Path(tempfile.mkdtemp()) / "study"
study = TransferStudy(
    "breastmnist",
    out_dir,
    backbones=["efficientnet_lite0", "efficientnet_lite1"],
    approaches=["feature_extractor"],
    seeds=3,
    input_size=128,
    n_bootstraps=300,
    verbose=0,
)
print(study.run())

# %%
# ``results.csv``: the metrics (``auc``, ``sensitivity``, ...), their CI bounds
# (``auc_low``, ``auc_high``) and standard deviation over seeds (``auc_sd``),
# and the costs (``compute_time_s``, ``inference_ms_per_image``,
# ``trainable_params``, ``peak_memory_mb``).
results = pd.read_csv(out_dir / "results.csv")
results[
    ["config", "n_seeds", "auc", "auc_low", "auc_high", "auc_sd", "compute_time_s"]
].round(3)

# %%
# AUC with its 95% confidence interval per configuration, next to sensitivity
# and specificity (the positive class of BreastMNIST is "malignant").
metrics = ["auc", "sensitivity", "specificity"]
fig, axes = plt.subplots(1, len(metrics), figsize=(10, 3), sharey=True)
for ax, metric in zip(axes, metrics, strict=True):
    low = results[metric] - results[f"{metric}_low"]
    high = results[f"{metric}_high"] - results[metric]
    ax.errorbar(
        results[metric],
        results["backbone"],
        xerr=[low, high],
        fmt="o",
        capsize=4,
    )
    ax.set(title=metric, xlim=(0, 1))
    ax.grid(axis="x", alpha=0.3)
fig.tight_layout()

# %%
# ``cells.csv`` keeps each seed: how much does the result move with the seed
# (the head's initialisation and the validation split), compared with the
# confidence interval from the finite test set?
cells = pd.read_csv(out_dir / "cells.csv")
cells[["backbone", "approach", "seed", "auc", "train_time_s"]].round(3)

# %%
fig, ax = plt.subplots(figsize=(6, 3))
for i, (backbone, group) in enumerate(cells.groupby("backbone")):
    ax.scatter(group["auc"], [i] * len(group), label="seeds", color="C0")
    row = results.set_index("backbone").loc[backbone]
    ax.hlines(
        i,
        row["auc_low"],
        row["auc_high"],
        color="C1",
        lw=3,
        alpha=0.5,
        label="95% CI (test set)",
    )
ax.set_yticks(range(cells["backbone"].nunique()), sorted(cells["backbone"].unique()))
ax.set_xlabel("test AUC")
handles, labels = ax.get_legend_handles_labels()
ax.legend(handles[:2], labels[:2], fontsize=8, loc="lower left")
fig.tight_layout()

# %%
# Where the time went: extracting embeddings (once per backbone, shared by the
# seeds through the cache) and training the head.
results.set_index("backbone")[["extract_time_s", "train_time_s"]].plot.barh(
    stacked=True, figsize=(6, 2.5), xlabel="seconds"
)
plt.tight_layout()
