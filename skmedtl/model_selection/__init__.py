"""Patient-level (group-aware) and multi-label stratified splitting, the one
selection loop, the optimism of selecting on validation, and nested subsamples
of a training partition for learning curves."""

from ._iterative import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
)
from ._optimism import SelectionOptimism, auc_statistic, selection_optimism
from ._select import Selection, select_on_validation
from ._split import check_group_separation, make_cv, train_test_split_by_group
from ._subsample import SkippedSize, Subsample, SubsamplePlan, subsample_indices

__all__ = [
    "IterativeStratifiedKFold",
    "Selection",
    "SelectionOptimism",
    "SkippedSize",
    "Subsample",
    "SubsamplePlan",
    "auc_statistic",
    "check_group_separation",
    "iterative_stratification",
    "iterative_train_test_split",
    "make_cv",
    "select_on_validation",
    "selection_optimism",
    "subsample_indices",
    "train_test_split_by_group",
]
