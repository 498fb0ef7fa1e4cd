"""Where one approach overtakes another along a learning curve.

A learning curve scores two approaches (fine-tuning and the best frozen
hybrid, say) trained on growing subsamples of the training partition, each
size drawn several times (repeats), on the *same* test images.
:func:`learning_curve_crossover` answers "from which training-set size is A
better than B?": a paired test per size (DeLong on the same test images, the
repeats pooled), Holm's correction over the sizes, and a smoothed estimate of
the size at which the two curves cross.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, curve_fit
from scipy.stats import norm

from ._compare import _binary_target, _seed_scores, holm, pooled_delong_test
from ._resample import weighted_auc

__all__ = ["CrossoverResult", "SizeComparison", "learning_curve_crossover"]


@dataclass(frozen=True)
class SizeComparison:
    """A against B at one training-set size.

    Attributes
    ----------
    size : int
        Training images.
    auc_a, auc_b : float
        Mean over repeats of each repeat's test AUC.
    difference : float
        ``auc_a - auc_b``.
    se : float
        Standard error of ``difference``: DeLong's test-set variance of the
        pooled repeats, plus the between-repeat variance of the paired
        differences over the number of repeats when asked for.
    p_value : float
        Two-sided, of ``difference / se`` under the standard normal.
    p_holm : float
        Holm-adjusted over the sizes.
    a_better, b_better : bool
        ``p_holm <= alpha`` and the sign of the difference.
    n_repeats : int
    """

    size: int
    auc_a: float
    auc_b: float
    difference: float
    se: float
    p_value: float
    p_holm: float
    a_better: bool
    b_better: bool
    n_repeats: int


@dataclass(frozen=True)
class CrossoverResult:
    """The outcome of :func:`learning_curve_crossover`.

    Attributes
    ----------
    comparisons : tuple of SizeComparison
        One per size, ascending.
    significant_from : int or None
        The smallest size from which A is significantly better than B at
        every larger size run; ``None``: not within the sizes run.
    crossover_size : float or None
        Smoothed estimate of the size where A's curve crosses B's from below;
        ``None`` when it does not within the sizes run (see ``note``).
    method : str
        ``"power law"`` (each curve fitted as ``c - b * n**-e``) or
        ``"interpolation"`` (mean differences, linear in ``log n``; used with
        fewer than four sizes or when a fit fails).
    note : str
        The answer in words.
    alpha : float
    name_a, name_b : str
    """

    comparisons: tuple[SizeComparison, ...]
    significant_from: int | None
    crossover_size: float | None
    method: str
    note: str
    alpha: float
    name_a: str
    name_b: str

    def __str__(self) -> str:
        lines = [
            f"{'size':>7} {'AUC ' + self.name_a:>14} {'AUC ' + self.name_b:>14} "
            f"{'diff':>7} {'p (Holm)':>9}"
        ]
        for c in self.comparisons:
            mark = "*" if c.a_better or c.b_better else ""
            lines.append(
                f"{c.size:>7} {c.auc_a:>14.3f} {c.auc_b:>14.3f} "
                f"{c.difference:>+7.3f} {c.p_holm:>9.3g}{mark}"
            )
        lines.append(self.note)
        return "\n".join(lines)


def _power_law(n, c, b, e):
    return c - b * np.power(n, -e)


def _fit(sizes: np.ndarray, means: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params, _ = curve_fit(
            _power_law,
            sizes,
            means,
            p0=(means[-1], (means[-1] - means[0]) * sizes[0] ** 0.5, 0.5),
            bounds=([-1.0, -np.inf, 1e-3], [2.0, np.inf, 3.0]),
            maxfev=20000,
        )
    return params


def _crossing(diff, low: float, high: float) -> float | None:
    """First upward zero crossing of ``diff(log n)`` on ``[low, high]``."""
    grid = np.linspace(np.log(low), np.log(high), 512)
    values = diff(grid)
    for i in range(len(grid) - 1):
        if values[i] <= 0 < values[i + 1]:
            if values[i] == 0:
                return float(np.exp(grid[i]))
            return float(np.exp(brentq(diff, grid[i], grid[i + 1])))
    return None


def learning_curve_crossover(
    y_true,
    sizes,
    scores_a,
    scores_b,
    *,
    pos_label=None,
    alpha: float = 0.05,
    repeat_variance: bool = True,
    name_a: str = "A",
    name_b: str = "B",
) -> CrossoverResult:
    """From which training-set size is approach A better than approach B?

    For every size, A and B were trained on the same subsamples (repeats) and
    scored on the same test images. Per size, the mean per-repeat AUC of A is
    compared with B's by DeLong's test for correlated AUCs with the repeats
    pooled (:func:`~skmedtl.metrics.pooled_delong_test`: every repeat's
    AUC covaries with every other's through the shared test images); with
    ``repeat_variance`` the spread of the paired per-repeat differences
    (another draw of training subsamples) is added to its variance. The
    p-values are Holm-adjusted over the sizes.

    Parameters
    ----------
    y_true : array-like of shape (n_test,)
        Labels of the test set (two classes).
    sizes : array-like of int, shape (n_sizes,)
        Training images of each size (for ``"all"`` give the number).
    scores_a, scores_b : sequence of array-like
        One entry per size: the positive-class scores of each repeat on the
        test images, shape ``(n_repeats, n_test)`` (or ``(n_test,)`` for one
        repeat). Repeat ``r`` of A and of B share a training subsample.
    pos_label : label, optional
        The positive class; by default the second sorted label.
    alpha : float, default=0.05
        Family-wise error rate over the sizes.
    repeat_variance : bool, default=True
        Add the between-repeat variance of the paired AUC differences over
        the number of repeats (needs the same repeats, at least two, for A
        and B at that size; otherwise only DeLong's variance is used).
    name_a, name_b : str, default="A", "B"
        For the note and the printed table.

    Returns
    -------
    CrossoverResult

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import norm
    >>> from skmedtl.metrics import learning_curve_crossover
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 500)
    >>> sizes = [20, 50, 100, 200, 400, 800]
    >>> def scores(auc):  # 3 repeats of binormal scores with this AUC
    ...     return y * np.sqrt(2) * norm.ppf(auc) + rng.normal(0, 1, (3, 1000))
    >>> a = [scores(0.95 - 1.2 / np.sqrt(n)) for n in sizes]
    >>> b = [scores(0.85 - 0.5 / np.sqrt(n)) for n in sizes]
    >>> r = learning_curve_crossover(y, sizes, a, b)
    >>> 30 < r.crossover_size < 80, r.significant_from in (100, 200)
    (True, True)
    """
    positive = _binary_target(y_true, pos_label)
    n = len(positive)
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or len(sizes) == 0 or sizes.dtype.kind not in "iu":
        raise ValueError(
            f"sizes must be a non-empty 1-D array of integers (training images); "
            f"got {sizes.tolist()!r}."
        )
    if (sizes < 1).any() or len(np.unique(sizes)) != len(sizes):
        raise ValueError(f"sizes must be distinct positive integers; got {sizes}.")
    for name, scores in (("scores_a", scores_a), ("scores_b", scores_b)):
        if len(scores) != len(sizes):
            raise ValueError(
                f"{name} must hold one entry per size ({len(sizes)}); got "
                f"{len(scores)}."
            )
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
    order = np.argsort(sizes)
    rows = []
    for i in order:
        a = _seed_scores(f"scores_a[{i}]", np.asarray(scores_a[i]).T, n)
        b = _seed_scores(f"scores_b[{i}]", np.asarray(scores_b[i]).T, n)
        result = pooled_delong_test(positive, a, b, pos_label=True)
        variance = result.variance
        if repeat_variance and a.shape[1] == b.shape[1] >= 2:
            paired = np.array(
                [
                    weighted_auc(positive, a[:, r]) - weighted_auc(positive, b[:, r])
                    for r in range(a.shape[1])
                ]
            )
            variance += float(np.var(paired, ddof=1)) / a.shape[1]
        se = float(np.sqrt(variance))
        if se > 0:
            p = float(2 * norm.sf(abs(result.difference) / se))
        else:
            p = 1.0 if result.difference == 0 else 0.0
        rows.append((int(sizes[i]), result, se, p, a.shape[1]))
    adjusted = holm([row[3] for row in rows])
    comparisons = tuple(
        SizeComparison(
            size=size,
            auc_a=result.auc_a,
            auc_b=result.auc_b,
            difference=result.difference,
            se=se,
            p_value=p,
            p_holm=float(q),
            a_better=bool(q <= alpha and result.difference > 0),
            b_better=bool(q <= alpha and result.difference < 0),
            n_repeats=repeats,
        )
        for (size, result, se, p, repeats), q in zip(rows, adjusted, strict=True)
    )
    significant_from = None
    for c in reversed(comparisons):
        if not c.a_better:
            break
        significant_from = c.size
    crossover, method = _smoothed_crossover(comparisons)
    return CrossoverResult(
        comparisons=comparisons,
        significant_from=significant_from,
        crossover_size=crossover,
        method=method,
        note=_note(comparisons, significant_from, crossover, method, name_a, name_b),
        alpha=float(alpha),
        name_a=name_a,
        name_b=name_b,
    )


def _smoothed_crossover(comparisons) -> tuple[float | None, str]:
    x = np.array([c.size for c in comparisons], dtype=float)
    a = np.array([c.auc_a for c in comparisons])
    b = np.array([c.auc_b for c in comparisons])
    low, high = x[0], x[-1]
    if len(x) < 2:
        return None, "interpolation"
    if len(x) >= 4:
        try:
            pa, pb = _fit(x, a), _fit(x, b)
        except (RuntimeError, ValueError):
            pass
        else:

            def diff(t):
                n = np.exp(t)
                return _power_law(n, *pa) - _power_law(n, *pb)

            return _crossing(diff, low, high), "power law"
    logs = np.log(x)

    def interpolated(t):
        return np.interp(t, logs, a - b)

    return _crossing(interpolated, low, high), "interpolation"


def _note(comparisons, significant_from, crossover, method, name_a, name_b) -> str:
    first, last = comparisons[0].size, comparisons[-1].size
    if significant_from is not None:
        test = (
            f"{name_a} is significantly better than {name_b} (Holm over "
            f"{len(comparisons)} sizes) from {significant_from} training images on."
        )
    else:
        test = (
            f"{name_a} is not significantly better than {name_b} from any size on "
            f"within the sizes run ({first} to {last} training images)."
        )
    if crossover is not None:
        smooth = f"The curves cross at about {crossover:.0f} images ({method})."
    elif comparisons[0].difference > 0:
        smooth = (
            f"{name_a} is ahead from the smallest size run on and its curve "
            f"does not cross {name_b}'s from below ({method})."
        )
    else:
        smooth = f"{name_a} does not overtake {name_b} within the sizes run ({method})."
    return f"{test} {smooth}"
