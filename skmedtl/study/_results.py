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
    comparisons : list of dict
        The configuration selected on validation against each other one on
        the test set: paired differences with bootstrap CIs, p-values
        (bootstrap; DeLong for a binary AUC) and their Holm correction (see
        :func:`skmedtl.study._stats.compare_configurations`).
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
    comparisons: list[dict] = field(default_factory=list)

    @property
    def selected(self) -> dict | None:
        """The row selected on validation (``recommendation["best"]``)."""
        return None if self.recommendation is None else self.recommendation["best"]

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
        selected = self.selected["config"] if self.selected else None
        head = (
            f"  {'backbone':<20} {'approach':<18} {'val':>6} "
            + " ".join(f"{METRICS[m]:>6}" for m in ("accuracy", "auc"))
            + f" {'Brier':>6} {'ECE':>6} {'compute s':>10} {'infer ms/img':>12}"
        )
        lines = [head]
        for row in self.table:
            mark = "*" if row["config"] == selected else " "
            lines.append(
                f"{mark} {row['backbone']:<20} {row['approach']:<18} "
                f"{row['validation_score']:6.3f} "
                f"{row['accuracy']:6.3f} {row['auc']:6.3f} "
                f"{row.get('brier', float('nan')):6.3f} "
                f"{row.get('ece', float('nan')):6.3f} "
                f"{row['compute_time_s']:10.1f} {row['inference_ms_per_image']:12.2f}"
            )
        if selected:
            lines.append(
                f"* selected on validation ({self.recommendation['metric']}); test "
                "values of the other rows are exploratory."
            )
        return "\n".join(lines)
