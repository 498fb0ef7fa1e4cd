"""Patient-level (group-aware) and multi-label stratified splitting helpers."""

from ._iterative import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
)
from ._split import check_group_separation, make_cv, train_test_split_by_group

__all__ = [
    "IterativeStratifiedKFold",
    "check_group_separation",
    "iterative_stratification",
    "iterative_train_test_split",
    "make_cv",
    "train_test_split_by_group",
]
