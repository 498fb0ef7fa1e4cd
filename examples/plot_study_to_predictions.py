"""
From study to use: the selected model saved, then applied to new images
=======================================================================

A study is worth little if its winner cannot be used. ``skmedtl study`` saves
the configuration it selected on validation, the very model it scored on the
test set, to ``OUT/model/`` (safe format, no pickle) with a model card, and
``skmedtl predict`` applies it to new image files. The journey is three
commands; here they run through :func:`skmedtl.cli.main`, exactly as in a
shell, on the bundled BreastMNIST, offline.
"""

# %%
# 1. The study. Two cheap frozen approaches on the bundled BreastMNIST (its
#    official split), and ``--save best,recommended``: the selected
#    configuration and the cheaper recommended one are both saved.
import csv
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import skmedtl
from skmedtl.cli import main
from skmedtl.study import load_study_dataset

work = Path(tempfile.mkdtemp())
out = work / "study"
code = main(
    ["study", "--dataset", "breastmnist", "--out", str(out),
     "--backbones", "efficientnet_lite0",
     "--approaches", "hybrid-logreg,hybrid-svm",
     "--input-size", "64", "--n-bootstraps", "200",
     "--save", "best,recommended", "--quiet"]
)  # fmt: skip
print("exit code", code)
print(sorted(p.name for p in (out / "model").iterdir()))

# %%
# The model card beside the weights: data, split sizes, validation and test
# metrics with their CIs, the operating point, versions, intended use and
# limitations (``model_card.md`` is the same, for people).
card = json.loads((out / "model" / "model_card.json").read_text())
print(card["model"], "-", card["selection"])
print("test AUC", [round(v, 3) for v in card["test"]["auc"]])
print("operating point", card["operating_point"])

# %%
# 2. New images. Stand-ins for new cases: ten test images written as PNG
#    files, plus one file that is not an image.
data = load_study_dataset("breastmnist")
test = data.indices("test")[:10]
new = work / "new_cases"
new.mkdir()
for i in test:
    Image.fromarray(data.images[i]).save(new / f"case_{i:03d}.png")
(new / "notes.png").write_text("not an image")

# %%
# 3. ``skmedtl predict``: one row per image, the unreadable file included with
#    its reason; the exit code is 1 because one image failed.
code = main(
    ["predict", "--model", str(out / "model"), "--images", str(new),
     "--out", str(work / "predictions.csv"), "--quiet"]
)  # fmt: skip
print("exit code", code)
with open(work / "predictions.csv", newline="") as f:
    rows = list(csv.DictReader(f))
for r in rows[:3] + rows[-1:]:
    print(Path(r["path"]).name, r["predicted_class"], r["decision_class"],
          r["p_0"] or "-", r["error"][:50])  # fmt: skip

# %%
# The probabilities are the study's own: ``predictions.csv`` of the study
# holds the selected model's test predictions, and the saved model, reading
# the PNG files, gives the same numbers.
key = json.loads((out / "model" / "metadata.json").read_text())["cell_key"]
with open(out / "predictions.csv", newline="") as f:
    study_rows = {int(r["index"]): r for r in csv.DictReader(f) if r["cell_key"] == key}
difference = max(
    abs(float(r["p_0"]) - float(study_rows[int(Path(r["path"]).stem[5:])]["p_0"]))
    for r in rows
    if not r["error"]
)
print(f"largest difference from the study's test probabilities: {difference:.1e}")

# %%
# In Python the saved model is a fitted scikit-learn classifier
# (:class:`~skmedtl.study.StudyModel`) that carries its operating point.
model = skmedtl.load(out / "model")
paths = sorted(str(p) for p in new.glob("case_*.png"))
print(model.classes_, model.class_names_, round(model.threshold_, 3))
print(model.predict(paths))  # the most probable class
print(model.predict(paths, threshold="validation"))  # at the operating point
print(np.round(model.predict_proba(paths)[:3], 3))
