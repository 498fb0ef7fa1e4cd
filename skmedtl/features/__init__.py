"""Frozen-backbone feature extraction."""

from ._cnn_features import CNNFeatures
from ._preprocess import Preprocessing
from ._volumes import VolumeFeatures

__all__ = ["CNNFeatures", "Preprocessing", "VolumeFeatures"]
