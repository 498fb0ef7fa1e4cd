"""Feature-extractor hybrids: frozen CNN features + scikit-learn / XGBoost heads."""

from ._label_encoding import LabelEncodedClassifier
from ._make_hybrid import HEADS, hybrid_head, make_hybrid

__all__ = ["HEADS", "LabelEncodedClassifier", "hybrid_head", "make_hybrid"]
