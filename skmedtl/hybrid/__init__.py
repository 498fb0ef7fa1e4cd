"""Feature-extractor hybrids: frozen CNN features + scikit-learn / XGBoost heads."""

from ._cv_path import PathResult
from ._grids import GRID_SIZES, HEAD_GRIDS, TUNE_GRIDS, head_grid
from ._label_encoding import LabelEncodedClassifier
from ._make_hybrid import HEADS, head_pipeline, hybrid_head, make_hybrid
from ._multilabel import HybridPipeline
from ._tuned import TunedClassifier

__all__ = [
    "GRID_SIZES",
    "HEADS",
    "HEAD_GRIDS",
    "TUNE_GRIDS",
    "HybridPipeline",
    "LabelEncodedClassifier",
    "PathResult",
    "TunedClassifier",
    "head_grid",
    "head_pipeline",
    "hybrid_head",
    "make_hybrid",
]
