"""An estimate with its confidence interval: the one type every metric returns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MetricCI"]


@dataclass(frozen=True)
class MetricCI:
    """A point estimate with its percentile bootstrap interval.

    Attributes
    ----------
    estimate, low, high : float
        The estimate and its interval (``low == high == estimate`` when no
        resampling was asked for).
    n_valid : int
        Resamples on which the statistic was defined (those the interval uses;
        0 when none were drawn).

    Examples
    --------
    >>> from skmedtl.metrics import MetricCI
    >>> print(MetricCI(0.85, 0.77, 0.93, 1000))
    0.850 [0.770, 0.930]
    """

    estimate: float
    low: float
    high: float
    n_valid: int

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"
