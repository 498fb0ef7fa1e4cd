"""Fine-tuning pretrained CNNs: every transfer-learning strategy of the review.

:class:`FineTuneClassifier` is a scikit-learn classifier that trains a new head,
some or all of a backbone's block groups, on images.
"""

from ._augment import LightAugmentation
from ._classifier import FineTuneClassifier
from ._freezing import FreezePlan
from ._network import FineTuneNetwork
from ._strategies import STRATEGIES, Strategy

__all__ = [
    "STRATEGIES",
    "FineTuneClassifier",
    "FineTuneNetwork",
    "FreezePlan",
    "LightAugmentation",
    "Strategy",
]
