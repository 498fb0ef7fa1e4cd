"""Feature-extractor hybrids: frozen CNN features + scikit-learn / XGBoost heads."""

from ._cv_path import PathResult
from ._label_encoding import LabelEncodedClassifier
from ._make_hybrid import HEADS, TUNE_GRIDS, head_pipeline, hybrid_head, make_hybrid
from ._multilabel import HybridPipeline
from ._tuned import TunedClassifier

__all__ = [
    "HEADS",
    "TUNE_GRIDS",
    "HybridPipeline",
    "LabelEncodedClassifier",
    "PathResult",
    "TunedClassifier",
    "head_pipeline",
    "hybrid_head",
    "make_hybrid",
]
