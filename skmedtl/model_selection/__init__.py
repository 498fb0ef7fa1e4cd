"""Patient-level (group-aware) and multi-label stratified splitting helpers, and
nested subsamples of a training partition for learning curves."""

from ._iterative import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
)
from ._split import check_group_separation, make_cv, train_test_split_by_group
from ._subsample import SkippedSize, Subsample, SubsamplePlan, subsample_indices

__all__ = [
    "IterativeStratifiedKFold",
    "SkippedSize",
    "Subsample",
    "SubsamplePlan",
    "check_group_separation",
    "iterative_stratification",
    "iterative_train_test_split",
    "make_cv",
    "subsample_indices",
    "train_test_split_by_group",
]
