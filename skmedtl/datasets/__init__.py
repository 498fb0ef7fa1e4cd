"""Data sets: image folders, MedMNIST files and the small sets bundled with skmedtl."""

from ._folder import FolderDataset, load_folder
from ._medmnist import load_breastmnist, load_medmnist

__all__ = ["FolderDataset", "load_breastmnist", "load_folder", "load_medmnist"]
