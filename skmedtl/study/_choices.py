"""Names a study accepts for its selection metric and its cost (no heavy imports)."""

from __future__ import annotations

from .._constants import SELECTION_METRICS
from ..utils._validation import StrOptions, validate_params

__all__ = ["COSTS", "SELECTION_METRICS", "check_cost", "check_metric"]

#: Cost measures the recommendation can minimise: column and description.
COSTS = {
    "time": ("compute_time_s", "compute time (extraction + training, s)"),
    "inference": ("inference_ms_per_image", "inference time (ms per image)"),
    "params": ("trainable_params", "trainable parameters"),
    "memory": ("peak_memory_mb", "peak memory (MB)"),
}
#: Metrics the recommendation can maximise.


def check_metric(metric) -> str:
    validate_params({"metric": metric}, {"metric": [StrOptions(SELECTION_METRICS)]})
    return metric


def check_cost(cost) -> str:
    validate_params({"cost": cost}, {"cost": [StrOptions(tuple(COSTS))]})
    return cost
