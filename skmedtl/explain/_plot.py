"""Drawing saliency maps: overlays and the study report's outcome figure."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["blend", "outcome_figure", "overlay"]

_OUTCOMES = ("TP", "FP", "TN", "FN")


def _display(image: np.ndarray) -> np.ndarray:
    """An image as float in ``[0, 1]`` for display (greyscale stays 2-D)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255
    x = image.astype(np.float32)
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if image.dtype.kind == "f" and lo >= 0 and hi <= 1:
        return x
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def blend(image, saliency_map, *, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """One image with its map as an RGB ``uint8`` array of the image's size.

    Parameters
    ----------
    image : ndarray of shape (h, w) or (h, w, c)
        The image as read.
    saliency_map : ndarray of shape (h, w)
        Values in ``[0, 1]``.
    alpha : float
        Weight of the heat map.
    cmap : str
        A matplotlib colour map.
    """
    from matplotlib import colormaps

    base = _display(image)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    m = np.asarray(saliency_map, dtype=np.float32)
    if m.shape != base.shape[:2]:
        raise ValueError(
            f"A map of shape {m.shape} does not fit an image of shape "
            f"{base.shape[:2]}; maps must come from saliency() on the same images."
        )
    heat = colormaps[cmap](np.clip(m, 0, 1))[..., :3]
    out = (1 - alpha) * base + alpha * heat
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def overlay(
    X,
    maps,
    path: str | os.PathLike | None = None,
    *,
    titles: list[str] | None = None,
    ncols: int = 4,
    alpha: float = 0.5,
    cmap: str = "jet",
    dpi: int = 100,
):
    """A grid of images with their saliency maps drawn over them.

    Parameters
    ----------
    X : array-like or list
        The images explained (arrays or file paths, as given to
        :func:`saliency`).
    maps : ndarray of shape (n, h, w) or list of ndarray
        Maps from :func:`saliency`, in the images' own pixels.
    path : str or path-like, optional
        Where to save the figure (format from the suffix: ``.png``, ``.pdf``,
        ``.svg``).
    titles : list of str, optional
        One title per image.
    ncols : int, default=4
        Images per row.
    alpha : float, default=0.5
        Opacity of the heat map.
    cmap : str, default="jet"
        Colour map of the heat map.
    dpi : int, default=100
        Resolution of the saved figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ..io import ImageSequence

    images = ImageSequence(X)
    maps = list(maps)
    if len(maps) != len(images):
        raise ValueError(
            f"X has {len(images)} images but maps has {len(maps)}; pass the maps "
            "saliency() returned for these images."
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}).")
    n = len(images)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(blend(images[i], maps[i], alpha=alpha, cmap=cmap))
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def outcome_figure(
    model,
    X,
    y_true,
    proba,
    path: str | os.PathLike | None = None,
    *,
    n_per_outcome: int = 3,
    method: str | None = None,
    threshold: float = 0.5,
    alpha: float = 0.5,
    saliency_params: dict | None = None,
):
    """Saliency maps of a few test images of each outcome, for a report.

    For two classes the rows are true positives, false positives, true negatives
    and false negatives (positive: ``classes_[1]``, predicted when its
    probability is at least ``threshold``); for more classes, correct and wrong
    predictions. Each row shows the most confident images of its outcome; the
    maps explain the positive class (two classes) or the predicted class.

    Parameters
    ----------
    model : estimator
        A fitted model that :func:`saliency` accepts.
    X : array-like or list
        Test images (arrays or paths), as the model takes them.
    y_true : array-like of shape (n,)
        True labels.
    proba : array-like of shape (n,) or (n, n_classes)
        Predicted probabilities (the positive class's, or one column per class
        in ``classes_`` order), e.g. the study's per-image predictions.
    path : str or path-like, optional
        Where to save the figure.
    n_per_outcome : int, default=3
        Images per outcome (fewer when the outcome has fewer).
    method : str, optional
        A method of :func:`saliency`; default :data:`DEFAULT_METHOD` when the
        whole model has gradients, else ``"occlusion"``.
    threshold : float, default=0.5
        Decision threshold on the positive class's probability (two classes).
    alpha : float, default=0.5
        Opacity of the heat maps.
    saliency_params : dict, optional
        More parameters of :func:`saliency` (``patch_size``, ``stride``, ...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ._models import resolve_model
    from ._saliency import saliency

    explained = resolve_model(model)
    classes = explained.classes
    y_true = np.asarray(y_true)
    n = len(y_true)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 2 and proba.shape[1] == 2 and len(classes) == 2:
        proba = proba[:, 1]
    if proba.shape[0] != n or (proba.ndim == 2 and proba.shape[1] != len(classes)):
        raise ValueError(
            f"proba must be (n,) or (n, {len(classes)}) for {n} labels; got shape "
            f"{proba.shape}."
        )
    if len(classes) == 2:
        positive = y_true == classes[1]
        predicted = proba >= threshold
        score = proba
        groups = {
            "TP": (positive & predicted, -score),
            "FP": (~positive & predicted, -score),
            "TN": (~positive & ~predicted, score),
            "FN": (positive & ~predicted, score),
        }
    else:
        if proba.ndim != 2:
            raise ValueError(
                f"proba must be (n, {len(classes)}) for {len(classes)} classes."
            )
        predicted_label = classes[proba.argmax(axis=1)]
        confidence = proba.max(axis=1)
        correct = predicted_label == y_true
        groups = {
            "correct": (correct, -confidence),
            "wrong": (~correct, -confidence),
        }
    chosen = {}
    for name, (mask, key) in groups.items():
        idx = np.flatnonzero(mask)
        chosen[name] = idx[np.argsort(key[idx], kind="stable")][:n_per_outcome]
    flat = np.concatenate([chosen[k] for k in groups]).astype(int)
    if method is None:
        from ._saliency import DEFAULT_METHOD

        method = DEFAULT_METHOD if explained.network is not None else "occlusion"
    maps = []
    images = []
    if len(flat):
        subset = X[flat] if isinstance(X, np.ndarray) else [X[i] for i in flat]
        maps = list(saliency(model, subset, method, **(saliency_params or {})))
        seq = explained.read(subset)
        images = [seq[i] for i in range(len(seq))]
    fig, axes = plt.subplots(
        len(groups),
        n_per_outcome,
        figsize=(2.4 * n_per_outcome + 0.8, 2.5 * len(groups)),
        squeeze=False,
    )
    k = 0
    for row, name in enumerate(groups):
        axes[row, 0].set_ylabel(name, fontsize=11)
        for col in range(n_per_outcome):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(chosen[name]):
                ax.text(
                    0.5,
                    0.5,
                    "none" if col == 0 else "",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="grey",
                )
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            i = chosen[name][col]
            ax.imshow(blend(images[k], maps[k], alpha=alpha))
            p = proba[i] if proba.ndim == 1 else proba[i].max()
            ax.set_title(f"{y_true[i]}: p={p:.2f}", fontsize=8)
            k += 1
    fig.suptitle(f"{method} maps by outcome", fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
