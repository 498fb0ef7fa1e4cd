"""skmedtl: transfer learning for medical image classification, the scikit-learn way."""

__version__ = "0.1.0.dev0"

from .backbones import create_backbone, get_backbone, list_backbones
from .features import CNNFeatures

__all__ = ["CNNFeatures", "create_backbone", "get_backbone", "list_backbones", "__version__"]
