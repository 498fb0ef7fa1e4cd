"""
The transfer-learning study: approaches compared, with cost, in one report
==========================================================================

Kim et al. (BMC Medical Imaging 2022) found that most studies pick a transfer
learning approach without comparing it to the others.
:class:`skmedtl.study.TransferStudy` runs that comparison: every backbone x
approach of a grid, each scored on the same held-out test set with 95%
bootstrap confidence intervals, next to what it cost (compute time,
inference time, trained parameters, memory). It writes ``results.csv``, a
Markdown and an HTML report with a recommendation, and figures.
``skmedtl study`` is the same thing on the command line, and ``skmedtl demo``
runs its ``"quick"`` profile on the bundled BreastMNIST.

Here a small grid runs in about a minute on a CPU: the frozen approaches on
128-pixel inputs, and two approaches that train the network on 32-pixel
inputs for at most three epochs. Such small inputs and budgets handicap the
approaches that train the network; the ``"standard"`` profile (native input
size, 20 epochs, two learning rates; a GPU recommended) gives them a fair
chance.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from skmedtl.study import TransferStudy

out_dir = Path(tempfile.mkdtemp()) / "study"
study = TransferStudy(
    "breastmnist",  # bundled; or a folder, a MedMNIST .npz, a CSV of paths
    out_dir,
    backbones=["efficientnet_lite0"],
    approaches=[
        "feature_extractor",
        "hybrid-logreg",
        "hybrid-svm",
        "fine_tune:1",
        "full",
    ],
    input_size=128,
    train_input_size=32,
    max_epochs=3,
    n_bootstraps=300,
    verbose=0,
)
for cell in study.plan():
    print(cell["cell"])

# %%
# ``run()`` computes the cells that are not finished yet (a study that stops
# resumes where it stopped: finished cells are logged in ``results.jsonl``),
# then writes the report. Frozen approaches share one embedding pass through
# the study's embedding cache.
results = study.run()
print(results)

# %%
# The results table, one row per backbone x approach: each metric with its
# 95% CI bounds (``auc_low``, ``auc_high``), the costs, the device. It is also
# ``results.csv`` in the output folder (see :ref:`the next example
# <sphx_glr_auto_examples_plot_results_table.py>`).
table = results.to_frame()
table[
    [
        "approach",
        "category",
        "auc",
        "auc_low",
        "auc_high",
        "sensitivity",
        "specificity",
        "compute_time_s",
        "trainable_params",
    ]
].round(3)

# %%
# The recommendation: the configuration selected on validation (never on the
# test set), and the cheapest one whose validation AUC lies within the selected
# one's confidence interval; then the paired comparisons with the others
# (Holm-corrected). On BreastMNIST the positive class is "malignant", so
# sensitivity is that of malignancy.
rec = results.recommendation
best, cheap = rec["best"], rec["cheapest"]
print("selected:", best["config"], f"val AUC {best['validation_score']:.3f}",
      f"test AUC {best['auc']:.3f}")
print("cheaper: ", cheap["config"], f"val AUC {cheap['validation_score']:.3f}",
      f"test AUC {cheap['auc']:.3f}")
for c in results.comparisons:
    print(f"  vs {c['config']}: {c['difference']:+.3f} "
          f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]")

# %%
# What was written: the tables, the reports and the figures.
for name, path in results.files.items():
    print(f"{name:26} {Path(path).relative_to(out_dir)}")

# %%
# The report's main figure: test AUC with its confidence interval against the
# compute time of each approach.
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.imshow(plt.imread(results.files["performance_vs_cost"]))
ax.axis("off")
fig.tight_layout()
