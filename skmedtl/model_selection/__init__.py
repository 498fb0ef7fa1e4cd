"""Patient-level (group-aware) and multi-label stratified splitting, and selection."""

from ._iterative import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
)
from ._optimism import SelectionOptimism, auc_statistic, selection_optimism
from ._split import check_group_separation, make_cv, train_test_split_by_group

__all__ = [
    "IterativeStratifiedKFold",
    "SelectionOptimism",
    "auc_statistic",
    "check_group_separation",
    "iterative_stratification",
    "iterative_train_test_split",
    "make_cv",
    "selection_optimism",
    "train_test_split_by_group",
]
