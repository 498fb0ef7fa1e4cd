"""Reading medical images into arrays."""

from ._readers import read_image

__all__ = ["read_image"]
