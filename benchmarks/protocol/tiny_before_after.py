"""A tiny synthetic study (faint signal, 160 images, lenet5, 4 approaches):
per configuration the inner, validation and test AUC, and study.json's selection.

Run: PYTHONPATH=. SKMEDTL_OFFLINE=1 python benchmarks/protocol/tiny_before_after.py OUT
"""

from __future__ import annotations

import csv
import json
import sys

import numpy as np

from skmedtl.study import StudyDataset, TransferStudy

out = sys.argv[1]
rng = np.random.default_rng(0)
n = 160
labels = np.arange(n) % 2
images = rng.integers(60, 200, (n, 16, 16)).astype(np.uint8)
images[labels == 1, 4:12, 4:12] += 6  # a faint patch: AUCs well below 1
data = StudyDataset.from_arrays(images, labels, random_state=0)
TransferStudy(
    data,
    out,
    backbones=["lenet5"],
    approaches=["hybrid-logreg", "hybrid-svm", "hybrid-xgboost", "full"],
    weights=None,
    input_size=32,
    train_input_size=32,
    max_epochs=3,
    n_bootstraps=200,
    seeds=1,
    verbose=0,
    n_threads=1,
    save=None,
).run()
rows = list(csv.DictReader(open(f"{out}/results.csv")))
sel = json.load(open(f"{out}/study.json")).get("selection")
for r in rows:
    v, t = float(r["validation_score"]), float(r["auc"])
    print(
        f"{r['config']:28s} inner {r.get('inner_score', '-')[:5]:5s} "
        f"val {v:.3f} test {t:.3f} gap {v - t:+.3f}"
    )
print(
    "selection:",
    json.dumps(sel)[:600]
    if sel
    else open(f"{out}/report.md").read().split("## Recommendation")[1][:600],
)
