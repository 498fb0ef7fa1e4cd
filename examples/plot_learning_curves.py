"""
Learning curves: how many training images each approach needs
==============================================================

The review of Kim et al. (BMC Medical Imaging 2022) recommends a frozen
feature extractor for small data sets and fine-tuning with more data, but
none of its studies measured where the crossover lies.
``TransferStudy(train_sizes=...)`` (``skmedtl study --train-sizes``) runs
every approach of the study on repeated, nested, stratified subsamples of the
training images, keeping the validation and test sets fixed, and states with
a paired test per size (:func:`skmedtl.metrics.learning_curve_crossover`)
whether fine-tuning overtakes the best frozen hybrid.

To keep this example to a minute or two on a CPU it runs one backbone, two
approaches (a logistic-regression head on frozen embeddings, and fine-tuning
the top block group at 32 pixels for at most three epochs), sizes 25, 50,
100 and all 546 training images, and three repeats per size (the default,
``train_repeats=3``); with so few repeats the intervals over repeats are
wide. The frozen approach reuses the study's embeddings (subsamples are
taken by index: no new extraction).
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from skmedtl.study import TransferStudy

out_dir = Path(tempfile.mkdtemp()) / "curves"
study = TransferStudy(
    "breastmnist",
    out_dir,
    backbones=["efficientnet_lite0"],
    approaches=["hybrid-logreg", "fine_tune:1"],
    input_size=64,
    train_input_size=32,
    max_epochs=3,
    n_bootstraps=200,
    train_sizes=[25, 50, 100, "all"],
    train_repeats=3,
    verbose=0,
)
results = study.run()

# %%
# Every curve cell is in ``learning_curves.csv``: its size, repeat, number of
# training images, validation score (what selection uses) and test AUC.
curves = pd.read_csv(out_dir / "learning_curves.csv")
curves.groupby(["approach", "n_train"])[["validation_score", "test_auc"]].mean()

# %%
# The report's figure: validation and test AUC against the number of
# training images, with 95% intervals over the repeats.
image = plt.imread(out_dir / "figures" / "learning_curves.png")
fig, ax = plt.subplots(figsize=(10, 4))
ax.imshow(image)
ax.axis("off")

# %%
# The report's section states the crossover (or that there is none within
# the sizes run), the costs per size and any size an approach could not
# train on.
report = (out_dir / "report.md").read_text()
start = report.index("## Learning curves")
print(report[start : report.index("\n## ", start + 5)])
