"""Patient-level and multi-label stratified splitting; the one selection loop."""

from ._iterative import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
)
from ._select import Selection, select_on_validation
from ._split import check_group_separation, make_cv, train_test_split_by_group

__all__ = [
    "IterativeStratifiedKFold",
    "Selection",
    "check_group_separation",
    "iterative_stratification",
    "iterative_train_test_split",
    "make_cv",
    "select_on_validation",
    "train_test_split_by_group",
]
