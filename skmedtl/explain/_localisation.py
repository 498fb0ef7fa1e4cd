"""Does a saliency map point at the lesion? Localisation metrics and baselines.

Per image, against the annotated region (a mask, or a box filled as one):

- **pointing game** (Zhang et al., 2016): a hit when the map's maximum lies
  within ``tolerance`` pixels (customary: 15) of the region;
- **energy-based pointing game** (Wang et al., 2020, Score-CAM): the share of
  the map's (non-negative) mass inside the region;
- **top-k% IoU**: the intersection over union of the ``top_k`` per cent
  highest-valued pixels of the map and the region.

:func:`localisation_scores` averages each over the images with a percentile
bootstrap confidence interval (images resampled), for the model's maps and
for two baselines on the same images: the **image centre** (a cone peaking at
the centre: a detector that always points there) and the **mean map** (the
average of the model's maps over the data set: a map that ignores the image).
A map that does not beat both does not localise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F

from ..metrics._interval import MetricCI
from ..utils._validation import check_int

__all__ = [
    "LocalisationReport",
    "LocalisationRow",
    "energy_fraction",
    "localisation_report",
    "localisation_scores",
    "peak",
    "pointing_hit",
    "topk_iou",
]

#: The customary pointing-game tolerance, in pixels (Zhang et al., 2016).
TOLERANCE = 15


def _check_pair(saliency_map, mask) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(saliency_map, dtype=np.float64)
    region = np.asarray(mask).astype(bool)
    if m.ndim != 2 or m.shape != region.shape:
        raise ValueError(
            f"A map and its mask must be 2-D arrays of the same shape; got "
            f"{m.shape} and {region.shape}."
        )
    if not region.any():
        raise ValueError("The mask is empty: an image without a region has no score.")
    return m, region


def peak(saliency_map) -> tuple[float, float]:
    """The map's maximum ``(row, col)``; on a plateau, the plateau's centroid."""
    m = np.asarray(saliency_map, dtype=np.float64)
    rows, cols = np.nonzero(m >= m.max() - 1e-9 * max(1.0, abs(m.max())))
    return float(rows.mean()), float(cols.mean())


def pointing_hit(saliency_map, mask, tolerance: float = TOLERANCE) -> bool:
    """Whether the map's maximum (:func:`peak`) is within ``tolerance`` px of the mask.

    The distance is Euclidean, from the peak (rounded to a pixel) to the nearest
    pixel of the mask; 0 inside it.
    """
    m, region = _check_pair(saliency_map, mask)
    i, j = (int(round(v)) for v in peak(m))
    distance = ndimage.distance_transform_edt(~region)
    return bool(distance[i, j] <= tolerance)


def energy_fraction(saliency_map, mask) -> float:
    """The share of the map's positive mass inside the mask (0 for an empty map)."""
    m, region = _check_pair(saliency_map, mask)
    positive = np.maximum(m, 0)
    total = positive.sum()
    return float(positive[region].sum() / total) if total > 0 else 0.0


def topk_iou(saliency_map, mask, top_k: float = 10.0) -> float:
    """IoU of the ``top_k`` % highest pixels of the map (ties included) and the mask."""
    m, region = _check_pair(saliency_map, mask)
    if not 0 < top_k <= 100:
        raise ValueError(f"top_k must be a percentage in (0, 100]; got {top_k!r}.")
    n_top = max(1, int(round(m.size * top_k / 100)))
    threshold = np.partition(m.ravel(), m.size - n_top)[m.size - n_top]
    top = m >= threshold
    return float((top & region).sum() / (top | region).sum())


@dataclass(frozen=True)
class LocalisationRow:
    """The three metrics of one kind of map (the model's, or a baseline's)."""

    maps: str
    pointing_game: MetricCI
    energy: MetricCI
    topk_iou: MetricCI


@dataclass(frozen=True)
class LocalisationReport:
    """Localisation of a model's maps against annotated regions, with baselines.

    Attributes
    ----------
    rows : tuple of LocalisationRow
        ``"model"``, then the baselines ``"image centre"`` and ``"mean map"``.
    hits : ndarray of bool
        The model's pointing-game hit per scored image.
    energy, iou : ndarray of float
        The model's per-image energy share and top-k% IoU.
    indices : ndarray of int
        Which of the given images were scored (those with a region).
    method, layer : str
        What made the maps (``layer`` ``"final"`` for the last feature map,
        ``"multiscale"`` for LayerCAM's default fusion of three).
    placement : str
        Where a CAM's cells were placed (``"measured"`` or ``"traced"``, see
        :func:`saliency`); ``""`` for other maps.
    tolerance, top_k, confidence : float
    n_skipped : int
        Images without an annotated region (not scored).
    maps : list of ndarray
        The model's maps of the scored images (for a figure of the misses).
    """

    rows: tuple[LocalisationRow, ...]
    hits: np.ndarray
    energy: np.ndarray
    iou: np.ndarray
    indices: np.ndarray
    method: str = ""
    layer: str = "final"
    placement: str = ""
    tolerance: float = TOLERANCE
    top_k: float = 10.0
    confidence: float = 0.95
    n_skipped: int = 0
    maps: list = field(default_factory=list, repr=False)

    @property
    def misses(self) -> np.ndarray:
        """Indices (into the given images) where the map's maximum missed."""
        return self.indices[~self.hits]

    def to_frame(self):
        """The table: one row per kind of map, value and CI per metric."""
        import pandas as pd

        records = []
        for row in self.rows:
            record = {"maps": row.maps}
            for name in ("pointing_game", "energy", "topk_iou"):
                est = getattr(row, name)
                record[name] = est.estimate
                record[f"{name}_low"] = est.low
                record[f"{name}_high"] = est.high
            records.append(record)
        return pd.DataFrame.from_records(records).set_index("maps")


def _bootstrap(values: np.ndarray, n_boot: int, confidence: float, rng):
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if n_boot == 0 or len(values) < 2:
        return MetricCI(mean, mean, mean, 0)
    idx = rng.integers(0, len(values), (n_boot, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return MetricCI(mean, float(low), float(high), n_boot)


def centre_map(shape: tuple[int, int]) -> np.ndarray:
    """The image-centre baseline: a cone, 1 at the centre, 0 at the far corners."""
    h, w = shape
    y = (np.arange(h) + 0.5 - h / 2) / (h / 2)
    x = (np.arange(w) + 0.5 - w / 2) / (w / 2)
    distance = np.sqrt(y[:, None] ** 2 + x[None, :] ** 2) / np.sqrt(2)
    return (1 - distance).astype(np.float32)


def _resize(m: np.ndarray, shape) -> np.ndarray:
    if m.shape == tuple(shape):
        return np.asarray(m, dtype=np.float32)
    t = torch.as_tensor(np.asarray(m, dtype=np.float32))[None, None]
    return F.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False)[
        0, 0
    ].numpy()


def mean_maps(maps: list[np.ndarray]) -> list[np.ndarray]:
    """The mean-map baseline: the average map, resampled to each image's size.

    Maps of different sizes are averaged on the grid of the first one.
    """
    shape = maps[0].shape
    mean = np.mean([_resize(m, shape) for m in maps], axis=0)
    return [_resize(mean, m.shape) for m in maps]


def _per_image(maps, masks, tolerance, top_k):
    hits = np.array(
        [pointing_hit(m, r, tolerance) for m, r in zip(maps, masks, strict=True)]
    )
    energy = np.array([energy_fraction(m, r) for m, r in zip(maps, masks, strict=True)])
    iou = np.array([topk_iou(m, r, top_k) for m, r in zip(maps, masks, strict=True)])
    return hits, energy, iou


def localisation_scores(
    maps,
    masks,
    *,
    tolerance: float = TOLERANCE,
    top_k: float = 10.0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state=0,
    method: str = "",
    layer: str = "final",
    placement: str = "",
) -> LocalisationReport:
    """Localisation metrics of precomputed maps, with CIs and both baselines.

    Parameters
    ----------
    maps : sequence of ndarray (h, w)
        Saliency maps in each image's pixels (e.g. from :func:`saliency`).
    masks : sequence of (ndarray of bool or None)
        The annotated region per image (:func:`load_annotations`); images whose
        mask is ``None`` or empty are not scored (counted in ``n_skipped``).
    tolerance : float, default=15
        Pointing game: pixels between the maximum and the region that still
        count as a hit.
    top_k : float, default=10
        Top-k% IoU: the percentage of each map's pixels kept.
    n_boot : int, default=1000
        Bootstrap resamples of the images (0: no interval).
    confidence : float, default=0.95
    random_state : int or None, default=0
        Seeds the bootstrap; the same resamples serve every row.
    method, layer, placement : str
        Recorded in the report.

    Returns
    -------
    LocalisationReport
    """
    maps = list(maps)
    masks = list(masks)
    if len(maps) != len(masks):
        raise ValueError(
            f"maps and masks must have the same length; got {len(maps)} maps "
            f"and {len(masks)} masks."
        )
    check_int("n_boot", n_boot, 0)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence!r}.")
    scored = [i for i, r in enumerate(masks) if r is not None and np.asarray(r).any()]
    if not scored:
        raise ValueError(
            "No image has an annotated region: localisation needs at least one "
            "mask or box."
        )
    n_images = len(maps)
    maps = [np.asarray(maps[i], dtype=np.float32) for i in scored]
    masks = [np.asarray(masks[i]).astype(bool) for i in scored]
    baselines = {
        "model": maps,
        "image centre": [centre_map(m.shape) for m in maps],
        "mean map": mean_maps(maps),
    }
    rows, model_scores = [], None
    for name, these in baselines.items():
        scores = _per_image(these, masks, tolerance, top_k)
        if model_scores is None:
            model_scores = scores
        estimates = [
            _bootstrap(s, n_boot, confidence, np.random.default_rng(random_state))
            for s in scores
        ]
        rows.append(LocalisationRow(name, *estimates))
    hits, energy, iou = model_scores
    return LocalisationReport(
        rows=tuple(rows),
        hits=hits,
        energy=energy,
        iou=iou,
        indices=np.asarray(scored, dtype=int),
        method=method,
        layer=layer,
        placement=placement,
        tolerance=float(tolerance),
        top_k=float(top_k),
        confidence=float(confidence),
        n_skipped=n_images - len(scored),
        maps=maps,
    )


def localisation_report(
    model,
    images,
    annotations,
    *,
    method: str | None = None,
    layer=None,
    placement: str | None = None,
    positive_class=None,
    tolerance: float = TOLERANCE,
    top_k: float = 10.0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state=0,
    batch_size: int = 32,
) -> LocalisationReport:
    """Where a fitted model's maps point, against annotated lesions.

    Parameters
    ----------
    model : estimator
        Anything :func:`saliency` explains.
    images : array-like or list
        The images, as the model takes them (arrays or file paths).
    annotations : sequence of (ndarray of bool or None)
        One region per image in the image's pixels, ``None`` where an image has
        none (see :func:`load_annotations`).
    method : str, optional
        A method of :func:`saliency` (default: its default).
    layer : str or list of str, optional
        CAM layer(s), as in :func:`saliency`.
    placement : {"measured", "traced"} or None, default=None
        Where a CAM's cells are placed, as in :func:`saliency` (``None``:
        ``"measured"``).
    positive_class : label, optional
        The class explained for every image (the report's positive class);
        default: :func:`saliency`'s default (``classes_[1]`` for two classes).
    tolerance, top_k, n_boot, confidence, random_state
        As in :func:`localisation_scores`.
    batch_size : int, default=32

    Returns
    -------
    LocalisationReport
        Its ``rows`` are the table (model, image centre, mean map); ``misses``
        the images whose map's maximum missed the region.

    Examples
    --------
    >>> report = localisation_report(model, paths, load_annotations(  # doctest: +SKIP
    ...     "boxes.csv", paths), positive_class="malignant")
    >>> report.to_frame()  # doctest: +SKIP
    """
    from .._constants import DEFAULT_CAM_PLACEMENT
    from ._cam import CAM_METHODS, default_layer
    from ._saliency import DEFAULT_METHOD, saliency

    method = DEFAULT_METHOD if method is None else method
    annotations = list(annotations)
    n = len(images)
    if len(annotations) != n:
        raise ValueError(
            f"annotations must give one region (or None) per image: {n} images, "
            f"{len(annotations)} annotations."
        )
    scored = [i for i, a in enumerate(annotations) if a is not None]
    if not scored:
        raise ValueError("No image has an annotated region.")
    subset = [images[i] for i in scored]
    if isinstance(images, np.ndarray):
        subset = np.asarray(images)[scored]
    maps = saliency(
        model,
        subset,
        method,
        target=positive_class,
        layer=layer,
        placement=placement,
        batch_size=batch_size,
    )
    full = [None] * n
    for k, i in enumerate(scored):
        full[i] = maps[k]
    masks = []
    for i, (m, a) in enumerate(zip(full, annotations, strict=True)):
        if a is not None and np.shape(a) != np.shape(m):
            raise ValueError(
                f"The annotation of image {i} has shape {np.shape(a)}, the image "
                f"{np.shape(m)}: regions are given in each image's own pixels."
            )
        masks.append(a)
    placeholder = [np.zeros((1, 1), np.float32) if m is None else m for m in full]
    if layer is None and method in CAM_METHODS:
        layer = default_layer(method)
    layer_name = "final" if layer is None else str(layer)
    return localisation_scores(
        placeholder,
        masks,
        tolerance=tolerance,
        top_k=top_k,
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
        method=method,
        layer=layer_name,
        placement=(placement or DEFAULT_CAM_PLACEMENT) if method in CAM_METHODS else "",
    )
