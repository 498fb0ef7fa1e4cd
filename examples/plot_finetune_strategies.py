"""
Fine-tuning strategies compared: frozen, top blocks, gradual, full, random
==========================================================================

:class:`~skmedtl.FineTuneClassifier` implements every fine-tuning approach of
Kim et al. (BMC Medical Imaging 2022) with one parameter, ``strategy``:

- ``"feature_extractor"``: the pretrained backbone stays frozen, a new linear
  head trains (the review's recommended starting point);
- ``"fine_tune"``: the top ``trainable_blocks`` block groups train too;
- ``"gradual"``: the head first, then one more block group at a time, top-down,
  each deeper group at a lower learning rate, whenever validation stops
  improving;
- ``"full"``: every layer trains from the pretrained weights (the review's
  "fine-tuning from scratch");
- ``"random_init"``: every layer trains from random weights (no transfer).

This example fits each on BreastMNIST and compares test AUC, fit time and
trainable parameters. To run in under a minute on a CPU the 28-pixel images
are upsampled to only 48 pixels (not the network's 224) and training stops
after a few epochs, so the numbers orient rather than rank:
``benchmarks/finetune`` has longer runs, and on a GPU the native input size is
the better choice.
"""

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.metrics import roc_auc_score

from skmedtl import FineTuneClassifier
from skmedtl.datasets import load_breastmnist

X_train, y_train = load_breastmnist("train")
X_test, y_test = load_breastmnist("test")

# %%
# The same settings for every strategy except the number of epochs: the
# estimator holds out a stratified 20 % of the training images to pick the best
# epoch and to stop early (for ``"gradual"``: to decide when to unfreeze the
# next group). ``"feature_extractor"`` embeds the images once and then trains
# only a linear head on the embeddings, so it can afford many more epochs;
# ``"gradual"`` spends its first epochs on the head alone.
common = dict(
    input_size=48,
    patience=1,
    batch_size=64,
    class_weight="balanced",
    random_state=0,
    verbose=0,
)
strategies = {
    "feature_extractor": {"max_epochs": 100, "patience": 5},
    "fine_tune": {"trainable_blocks": 2, "max_epochs": 4},
    "gradual": {"max_epochs": 8},
    "full": {"max_epochs": 4},
    "random_init": {"max_epochs": 4},
}
rows, fitted = [], {}
for strategy, extra in strategies.items():
    params = {**common, **extra}
    clf = FineTuneClassifier("efficientnet_lite0", strategy=strategy, **params)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    fitted[strategy] = clf
    rows.append(
        {
            "strategy": strategy,
            "test AUC": roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]),
            "fit (s)": seconds,
            "epochs (best)": f"{clf.n_epochs_} ({clf.best_epoch_})",
            "trainable params": clf.n_trainable_params_,
        }
    )
results = pd.DataFrame(rows).set_index("strategy")
results.style.format(
    {"test AUC": "{:.3f}", "fit (s)": "{:.1f}", "trainable params": "{:,}"}
)

# %%
# Cost against benefit: the frozen feature extractor trains about a thousand
# times fewer parameters than full fine-tuning, and embeds every image only
# once. Random initialisation shows what the ImageNet weights bring.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
colours = plt.cm.tab10.colors
for i, (name, row) in enumerate(results.iterrows()):
    ax1.scatter(row["fit (s)"], row["test AUC"], s=60, color=colours[i], label=name)
    ax2.scatter(row["trainable params"], row["test AUC"], s=60, color=colours[i])
ax1.set(xlabel="fit time (s)", ylabel="test AUC")
ax2.set(xlabel="trainable parameters", xscale="log")
ax1.legend(fontsize=8)
fig.tight_layout()

# %%
# What ``"gradual"`` did, epoch by epoch: ``history_`` records the trained
# parts (head first, then block groups top-down) and the learning rate of
# each; deeper groups train at ``lr * lr_decay**k``.
pd.DataFrame(
    [
        {
            "epoch": e["epoch"],
            "trainable": ", ".join(e["trainable"]),
            "learning rates": ", ".join(f"{lr:.0e}" for lr in e["lr"].values()),
            "valid loss": round(e["valid_loss"], 4),
            "best": e["best"],
        }
        for e in fitted["gradual"].history_
    ]
)

# %%
# Validation loss per epoch for each strategy.
fig, ax = plt.subplots(figsize=(6, 3.6))
for i, (name, clf) in enumerate(fitted.items()):
    losses = [e["valid_loss"] for e in clf.history_]
    ax.plot(range(1, len(losses) + 1), losses, "o-", color=colours[i], label=name)
ax.set(xlabel="epoch", ylabel="validation loss")
ax.legend(fontsize=8)
fig.tight_layout()
