"""Patient-level (group-aware) and multi-label stratified splitting, nested
subsamples of a training partition for learning curves, and the optimism of
selecting on validation."""

from ._iterative import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
)
from ._optimism import SelectionOptimism, auc_statistic, selection_optimism
from ._split import check_group_separation, make_cv, train_test_split_by_group
from ._subsample import SkippedSize, Subsample, SubsamplePlan, subsample_indices

__all__ = [
    "IterativeStratifiedKFold",
    "SelectionOptimism",
    "SkippedSize",
    "Subsample",
    "SubsamplePlan",
    "auc_statistic",
    "check_group_separation",
    "iterative_stratification",
    "iterative_train_test_split",
    "make_cv",
    "selection_optimism",
    "subsample_indices",
    "train_test_split_by_group",
]
