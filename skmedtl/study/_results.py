"""What a study returns: the results table, the recommendation, the files."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._evaluate import METRICS

__all__ = ["StudyResults"]


@dataclass
class StudyResults:
    """The outcome of :meth:`TransferStudy.run` (or :meth:`TransferStudy.report`).

    Attributes
    ----------
    out_dir : str
    table : list of dict
        One row per (backbone, approach), seeds pooled: metrics with
        ``<metric>_low`` / ``<metric>_high`` CI bounds, costs, device. The rows
        of ``results.csv``.
    cells : list of dict
        One row per finished (backbone, approach, seed): ``cells.csv``.
    recommendation : dict or None
        ``best`` and ``cheapest`` (rows of ``table``), ``metric``, ``cost``
        (see :func:`skmedtl.study.recommend`).
    files : dict
        Paths of what was written (``results``, ``cells``, ``log``,
        ``markdown``, ``html`` and each figure).
    n_cells : int
        Cells in the plan.
    n_run, n_skipped : int
        Cells computed by this call, and cells found finished in the log.
    failures : list of dict
        Cells that raised (with ``on_error="skip"``): ``cell`` and ``error``.
    """

    out_dir: str
    table: list[dict]
    cells: list[dict]
    recommendation: dict | None
    files: dict
    n_cells: int
    n_run: int = 0
    n_skipped: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every cell of the plan has a result."""
        return len(self.cells) == self.n_cells

    def to_frame(self):
        """The results table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - pandas is a dev dependency
            raise ImportError(
                "StudyResults.to_frame() needs pandas: pip install pandas"
            ) from e
        return pd.DataFrame(self.table)

    def __str__(self) -> str:
        head = (
            f"{'backbone':<20} {'approach':<18} "
            + " ".join(f"{METRICS[m]:>6}" for m in ("accuracy", "auc"))
            + f" {'compute s':>10} {'infer ms/img':>12}"
        )
        lines = [head]
        for row in self.table:
            lines.append(
                f"{row['backbone']:<20} {row['approach']:<18} "
                f"{row['accuracy']:6.3f} {row['auc']:6.3f} "
                f"{row['compute_time_s']:10.1f} {row['inference_ms_per_image']:12.2f}"
            )
        return "\n".join(lines)
