"""Frozen-backbone feature extraction."""

from ._cnn_features import CNNFeatures
from ._preprocess import Preprocessing

__all__ = ["CNNFeatures", "Preprocessing"]
