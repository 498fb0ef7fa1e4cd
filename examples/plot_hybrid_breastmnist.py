"""
Frozen ImageNet features + SVM on BreastMNIST
=============================================

The *feature-extractor hybrid* of Kim et al. (2022): a pretrained CNN, frozen,
turns each ultrasound image into a vector; a classical classifier learns on those
vectors. It is the cheapest of the review's approaches and a strong baseline on
small medical data sets.

Everything here runs offline on a CPU in about half a minute: the BreastMNIST
images ship with skmedtl (MedMNIST v2, CC BY 4.0) and so do the EfficientNet-Lite0
ImageNet weights.
"""

# %%
# Load the bundled data: 28×28 greyscale breast ultrasound, 0 = malignant,
# 1 = normal or benign, with the official train / test split.
import numpy as np
from sklearn.metrics import RocCurveDisplay, balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skmedtl import CNNFeatures
from skmedtl.datasets import load_breastmnist

X_train, y_train = load_breastmnist("train")
X_test, y_test = load_breastmnist("test")
print(X_train.shape, np.bincount(y_train))

# %%
# A pipeline like any other scikit-learn pipeline. ``CNNFeatures`` repeats the
# greyscale channel, resizes to the network's 224 px with the weights' own
# interpolation and normalisation, and runs the frozen network in eval mode.
pipe = Pipeline(
    [
        ("features", CNNFeatures("efficientnet_lite0", verbose=0)),
        ("scale", StandardScaler()),
        ("svm", SVC(class_weight="balanced")),
    ]
)
pipe.fit(X_train, y_train)

# %%
# Test-set performance. The SVM's decision function ranks the images for the AUC.
scores = pipe.decision_function(X_test)
print(f"balanced accuracy: {balanced_accuracy_score(y_test, pipe.predict(X_test)):.3f}")
print(f"AUC:               {roc_auc_score(y_test, scores):.3f}")

# %%
# The ROC curve (matplotlib is needed for this last step only).
try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    plt = None
if plt is not None:
    RocCurveDisplay.from_predictions(y_test, scores, name="EfficientNet-Lite0 + SVM")
    plt.show()
