"""Data sets: MedMNIST files and the small sets bundled with skmedtl."""

from ._medmnist import load_breastmnist, load_medmnist

__all__ = ["load_breastmnist", "load_medmnist"]
