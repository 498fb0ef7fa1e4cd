"""Patient-level (group-aware) splitting helpers."""

from ._split import check_group_separation, make_cv, train_test_split_by_group

__all__ = ["check_group_separation", "make_cv", "train_test_split_by_group"]
