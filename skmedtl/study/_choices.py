"""Names a study accepts for its selection metric and its cost (no heavy imports)."""

from __future__ import annotations

from .._constants import SELECTION_METRICS

__all__ = ["COSTS", "SELECTION_METRICS"]

#: Cost measures the recommendation can minimise: column and description.
COSTS = {
    "time": ("compute_time_s", "compute time (training side + test inference, s)"),
    "inference": ("inference_ms_per_image", "inference time (ms per image)"),
    "params": ("trainable_params", "trainable parameters"),
    "memory": ("peak_memory_mb", "peak memory (MB)"),
}
