"""
Where does the model look? Saliency maps on BreastMNIST
=======================================================

:func:`skmedtl.explain.saliency` maps, for each image, the pixels that drive a
fitted model's score for a class:

- **Grad-CAM** (and Grad-CAM++, HiResCAM; from the ``grad-cam`` package,
  ``pip install "skmedtl[explain]"``) for a fine-tuned network, and for a hybrid
  whose head is linear (the scaler and the logistic regression are composed
  with the frozen backbone into one differentiable module);
- **occlusion** for any model with ``predict_proba``, e.g. a hybrid with an RBF
  SVM, which has no gradient: a patch slides over the image and the drop of the
  class's probability is recorded.

Maps come back in each image's own pixels (here 28 x 28), whatever resize the
network's preprocessing used. Everything runs offline on a CPU in well under a
minute: the images (MedMNIST v2, CC BY 4.0) and the EfficientNet-Lite0 ImageNet
weights ship with skmedtl. To stay fast, the 28-pixel images are upsampled to
96 pixels, so the network's last feature map is 3 x 3: the maps are coarse.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skmedtl import FineTuneClassifier, make_hybrid
from skmedtl.datasets import load_breastmnist
from skmedtl.explain import outcome_figure, overlay, saliency

X_train, y_train = load_breastmnist("train")
X_test, y_test = load_breastmnist("test")
MALIGNANT = 0  # BreastMNIST: 0 = malignant, 1 = normal or benign
shown = np.flatnonzero(y_test == MALIGNANT)[:8]

# %%
# A fine-tuned network
# --------------------
# The top block group of EfficientNet-Lite0 and a new head train for a few
# epochs. Grad-CAM explains the malignant class on eight malignant test images.
net = FineTuneClassifier(
    "efficientnet_lite0",
    strategy="fine_tune",
    trainable_blocks=1,
    input_size=96,
    max_epochs=3,
    batch_size=64,
    class_weight="balanced",
    random_state=0,
    verbose=0,
).fit(X_train, y_train)

maps = saliency(net, X_test[shown], method="gradcam", target=MALIGNANT)
p = net.predict_proba(X_test[shown])[:, MALIGNANT]
overlay(X_test[shown], maps, titles=[f"p(malignant)={v:.2f}" for v in p])
plt.show()

# %%
# A hybrid with a linear head: Grad-CAM through the pipeline
# ----------------------------------------------------------
# Frozen ImageNet features, a ``StandardScaler`` and a logistic regression.
hybrid = make_hybrid(
    "efficientnet_lite0", "logreg", input_size=96, class_weight="balanced",
    random_state=0, verbose=0,
).fit(X_train, y_train)
maps_hybrid = saliency(hybrid, X_test[shown], method="gradcam", target=MALIGNANT)
overlay(X_test[shown], maps_hybrid)
plt.show()

# %%
# An SVM hybrid: occlusion
# ------------------------
# The RBF SVM has no gradient, so its map comes from occlusion: a 7-pixel black
# square (the images' minimum) in steps of 3 pixels, 64 occluded copies per
# image, predicted in batches.
svm = make_hybrid(
    "efficientnet_lite0", "svm", input_size=96, class_weight="balanced",
    verbose=0,
).fit(X_train, y_train)
maps_svm = saliency(
    svm, X_test[shown], method="occlusion", target=MALIGNANT, patch_size=7,
    stride=3, fill="min",
)
overlay(X_test[shown], maps_svm)
plt.show()

# %%
# Maps by outcome, for a report
# -----------------------------
# :func:`~skmedtl.explain.outcome_figure` shows the most confident test images
# of each outcome. For two classes the positive class is ``classes_[1]`` (here
# "normal or benign"), and the maps explain it.
outcome_figure(net, X_test, y_test, net.predict_proba(X_test), n_per_outcome=3)
plt.show()

# %%
# What such maps can and cannot show
# ----------------------------------
# A map shows where a change of the image changes the model's score: for
# Grad-CAM, the regions of the last feature map whose features, weighted by
# the score's gradient, speak for the class; for occlusion, the regions whose
# hiding lowers the class's probability. skmedtl's tests check that this is
# faithful where the answer is known (a planted patch decides the class: the
# map's maximum falls in the patch for at least 90% of images) and that the
# maps depend on the trained weights (re-initialising the top block changes
# them, the sanity check of Adebayo et al., 2018).
#
# A map cannot show *why* a region matters, nor that the prediction is right:
# highlighting a lesion is not evidence that the lesion, rather than something
# correlated with it (a caliper mark, a text overlay, the border of the
# ultrasound cone), caused the prediction. Its resolution is that of the last
# feature map (3 x 3 here, 7 x 7 at 224 pixels), upsampled; occlusion depends on
# the patch's size and fill, since the patch is itself something the network
# sees. Methods and models disagree, as the three grids above show. Use maps
# to look for shortcuts and to discuss errors, not as segmentations or as proof
# of clinical validity.
