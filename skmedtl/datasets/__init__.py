"""Data sets: image folders, MedMNIST files and the small sets bundled with skmedtl."""

from ._folder import FolderDataset, find_images, load_folder
from ._medmnist import CHESTMNIST_LABELS, load_breastmnist, load_medmnist
from ._samples import SAMPLE_FILES, get_sample_file

__all__ = [
    "CHESTMNIST_LABELS",
    "SAMPLE_FILES",
    "FolderDataset",
    "find_images",
    "get_sample_file",
    "load_breastmnist",
    "load_folder",
    "load_medmnist",
]
