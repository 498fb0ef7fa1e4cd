"""Intensity policies: from raw pixel values (HU, 16-bit counts, ...) to ``[0, 1]``.

A policy is chosen by the user, never guessed, and is recorded:

- ``None``: no mapping. Readers return the values of the file in its own dtype
  (``uint8``, ``uint16``, ``int16``, or ``float32`` after a DICOM rescale / NIfTI
  scaling). Nothing is ever cast to ``uint8``.
- ``"auto"`` (the default of :class:`~skmedtl.CNNFeatures`): ``uint8`` divided
  by 255, ``bool`` as 0/1, every wider integer type min-max scaled per image;
  floats must already lie in ``[0, 1]``.
- ``"dtype"``: integers divided by the maximum of their dtype (``uint16`` by
  65535); floats must already lie in ``[0, 1]``.
- ``"minmax"``: per image (per volume for 3-D data) min-max scaling.
- ``"percentile"`` or ``("percentile", low, high)``: clip to the image's own
  ``low``-th and ``high``-th percentiles (default 0.5 and 99.5), then scale.
- a CT window preset (``"lung"``, ``"mediastinum"``, ``"soft_tissue"``,
  ``"bone"``, ``"brain"``, ``"liver"``; see :data:`CT_WINDOWS`), or an explicit
  ``(center, width)`` window in the image's units (Hounsfield units for CT read
  by :func:`~skmedtl.io.read_image`, which applies the rescale slope/intercept).
- ``"voi"``: the VOI LUT or the first window (centre/width) stored in a DICOM
  file.

Every policy except ``None`` returns ``float32`` in ``[0, 1]``, which
:class:`~skmedtl.CNNFeatures` takes as it is. The same vocabulary is accepted by
:func:`~skmedtl.io.read_image`, :class:`~skmedtl.io.ImageLoader`,
:class:`~skmedtl.VolumeFeatures` and ``CNNFeatures(intensity=...)`` (which
computes ``"auto"``, ``"minmax"`` and ``"dtype"`` on the extraction device, with
the same min-max function, :func:`minmax_rows`). Its embedding cache keys hash the
decoded array, so two policies give two different arrays and therefore two
different cache entries: the policy is part of the key by construction. The
resolved policy is also recorded as :attr:`ImageLoader.intensity_
<skmedtl.io.ImageLoader>` (see :meth:`IntensityPolicy.to_dict`).

Windows use the continuous form: values below ``center - width / 2`` map to 0,
above ``center + width / 2`` to 1, linearly in between.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from types import MappingProxyType

import numpy as np

from ..utils._naming import did_you_mean

__all__ = [
    "CT_WINDOWS",
    "IntensityPolicy",
    "apply_window",
    "scale_intensity",
]

#: CT windows in Hounsfield units, ``name -> (center, width)`` (the usual
#: radiology presets, e.g. Radiopaedia "Windowing (CT)").
CT_WINDOWS = MappingProxyType(
    {
        "lung": (-600.0, 1500.0),
        "mediastinum": (50.0, 350.0),
        "soft_tissue": (50.0, 400.0),
        "bone": (400.0, 1800.0),
        "brain": (40.0, 80.0),
        "liver": (30.0, 150.0),
    }
)

DEFAULT_PERCENTILES = (0.5, 99.5)
#: Policies a batch computes on the extraction device (the others run per image
#: on the host, before the batch is formed).
DEVICE_KINDS = ("auto", "minmax", "dtype")
_NAMED = ("auto", "dtype", "minmax", "percentile", "voi", *CT_WINDOWS)
_FLOAT_TOLERANCE = 1e-3
_SPEC_HELP = (
    "Use None (raw values), 'auto', 'dtype', 'minmax', 'percentile' or "
    "('percentile', low, high), "
    f"a CT window preset ({', '.join(repr(k) for k in CT_WINDOWS)}), an explicit "
    "(center, width) window, or 'voi' (the window stored in a DICOM file)."
)


@dataclass(frozen=True)
class IntensityPolicy:
    """A resolved intensity policy: how raw values become ``float32`` in ``[0, 1]``.

    Build one with :meth:`from_spec`; users normally pass the spec (a string or a
    tuple) to :func:`~skmedtl.io.read_image` or :class:`~skmedtl.io.ImageLoader`.

    Parameters
    ----------
    kind : {"none", "auto", "dtype", "minmax", "percentile", "window", "voi"}
    center, width : float, optional
        The window (``kind="window"``).
    low, high : float, optional
        The percentiles (``kind="percentile"``).
    preset : str, optional
        The name of a CT window preset, if the window came from one.

    Examples
    --------
    >>> from skmedtl.io import IntensityPolicy
    >>> IntensityPolicy.from_spec("lung")
    IntensityPolicy(kind='window', center=-600.0, width=1500.0, low=None, high=None,
                    preset='lung')
    >>> IntensityPolicy.from_spec(("percentile", 1, 99)).to_dict()["high"]
    99.0
    """

    kind: str
    center: float | None = None
    width: float | None = None
    low: float | None = None
    high: float | None = None
    preset: str | None = None

    @classmethod
    def from_spec(cls, spec) -> IntensityPolicy:
        """Resolve a user's ``intensity`` value, or raise a helpful ``ValueError``."""
        if spec is None:
            return cls("none")
        if isinstance(spec, IntensityPolicy):
            return spec
        if isinstance(spec, str):
            if spec in ("minmax", "auto", "dtype"):
                return cls(spec)
            if spec == "percentile":
                return cls(
                    "percentile",
                    low=DEFAULT_PERCENTILES[0],
                    high=DEFAULT_PERCENTILES[1],
                )
            if spec == "voi":
                return cls("voi")
            if spec in CT_WINDOWS:
                center, width = CT_WINDOWS[spec]
                return cls("window", center=center, width=width, preset=spec)
            raise ValueError(
                f"Unknown intensity {spec!r}.{did_you_mean(spec, _NAMED)} {_SPEC_HELP}"
            )
        if isinstance(spec, (tuple, list)):
            if len(spec) == 3 and spec[0] == "percentile":
                low, high = _number(spec[1], "low"), _number(spec[2], "high")
                if not 0 <= low < high <= 100:
                    raise ValueError(
                        f"intensity={tuple(spec)!r}: percentiles must satisfy "
                        f"0 <= low < high <= 100; got low={low}, high={high}."
                    )
                return cls("percentile", low=low, high=high)
            if len(spec) == 2 and not isinstance(spec[0], str):
                center, width = _number(spec[0], "center"), _number(spec[1], "width")
                if width <= 0:
                    raise ValueError(
                        f"intensity={tuple(spec)!r}: a window (center, width) needs "
                        f"a positive width; got {width}."
                    )
                return cls("window", center=center, width=width)
        raise ValueError(f"Invalid intensity {spec!r}. {_SPEC_HELP}")

    def to_dict(self) -> dict:
        """The policy as a plain dict (for reports and cache namespaces)."""
        return asdict(self)

    def key(self) -> str:
        """A short canonical string naming the policy (for cache namespaces).

        ``"auto"``, ``"minmax"`` and ``"dtype"`` are their own key; a window is
        ``"window(center,width)"`` whether or not it came from a preset (the
        preset's values are what matters to the pixels).
        """
        if self.kind == "window":
            return f"window({self.center:g},{self.width:g})"
        if self.kind == "percentile":
            return f"percentile({self.low:g},{self.high:g})"
        return self.kind

    def describe(self) -> str:
        """A short human-readable description."""
        if self.kind == "window":
            name = f" ({self.preset})" if self.preset else ""
            return f"window center={self.center:g} width={self.width:g}{name}"
        if self.kind == "percentile":
            return f"percentile clip [{self.low:g}, {self.high:g}] then min-max"
        return {
            "none": "raw values",
            "auto": "uint8 / 255, wider integers min-max per image",
            "dtype": "integers / their dtype's maximum",
            "minmax": "min-max per image",
            "voi": "DICOM VOI LUT / window",
        }[self.kind]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Apply the policy to one image (or one volume).

        ``kind="none"`` returns ``image`` unchanged. ``kind="voi"`` needs the
        DICOM header, so only the DICOM reader applies it.
        """
        image = np.asarray(image)
        if self.kind == "none":
            return image
        if self.kind == "minmax":
            return _minmax(image)
        if self.kind in ("auto", "dtype"):
            return _by_dtype(image, self.kind)
        if self.kind == "percentile":
            return _percentile(image, self.low, self.high)
        if self.kind == "window":
            return apply_window(image, self.center, self.width)
        raise ValueError(
            "intensity='voi' uses the VOI LUT or window stored in a DICOM file; "
            "it cannot be applied to a plain array. Choose a window such as "
            "'soft_tissue' or (40, 400), or 'minmax'."
        )


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"The intensity {name} must be a number; got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"The intensity {name} must be finite; got {value!r}.")
    return value


def _float(image: np.ndarray) -> np.ndarray:
    # float64 keeps 32-bit integers exact; everything else computes in float32.
    wide = image.dtype.itemsize >= 4 and image.dtype.kind in "iuf"
    if image.dtype.kind not in "biuf":
        raise TypeError(f"Cannot scale an image of dtype {image.dtype}.")
    return image.astype(np.float64 if wide else np.float32)


def _scale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi > lo:
        out = (x - lo) / (hi - lo)
    else:  # zero-width range: a step at lo (a constant image becomes 0)
        out = (x > lo).astype(x.dtype)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def minmax_rows(x):
    """Min-max scale each ``x[i]`` to ``[0, 1]``: the one min-max of skmedtl.

    Works on a numpy array or a torch tensor (float) of shape ``(n, ...)``, so
    the readers (numpy, on the host) and :class:`~skmedtl.CNNFeatures` (torch, on
    the extraction device) scale alike. NaN is ignored for the range and stays
    NaN; a constant image becomes 0.
    """
    if isinstance(x, np.ndarray):
        xp = np
    else:
        import torch as xp
    flat = x.reshape(x.shape[0], -1)
    nan = xp.isnan(flat)
    lo = xp.amin(xp.where(nan, math.inf, flat), 1)
    hi = xp.amax(xp.where(nan, -math.inf, flat), 1)
    shape = (-1,) + (1,) * (x.ndim - 1)
    lo, hi = lo.reshape(shape), hi.reshape(shape)
    span = hi - lo
    ok = span > 0
    return xp.clip(xp.where(ok, (x - lo) / xp.where(ok, span, 1), 0), 0, 1)


def _minmax(image: np.ndarray) -> np.ndarray:
    x = _float(image)
    if x.size == 0 or np.isnan(x).all():
        return x.astype(np.float32)
    return minmax_rows(x[None])[0].astype(np.float32, copy=False)


def _by_dtype(image: np.ndarray, kind: str) -> np.ndarray:
    """``"auto"`` / ``"dtype"`` for one image on the host (see the module doc)."""
    if image.dtype.kind == "b":
        return image.astype(np.float32)
    if image.dtype.kind == "f":
        x = image.astype(np.float32)
        finite = x[np.isfinite(x)]
        if finite.size and (
            finite.min() < -_FLOAT_TOLERANCE or finite.max() > 1 + _FLOAT_TOLERANCE
        ):
            raise ValueError(
                f"A float image with values in [{finite.min():.4g}, "
                f"{finite.max():.4g}], outside [0, 1], under intensity={kind!r}. "
                "Rescale it to [0, 1], or pass intensity='minmax' to scale each "
                "image by its own range."
            )
        return np.clip(x, 0.0, 1.0)
    if image.dtype.kind not in "iu":
        raise TypeError(f"Cannot scale an image of dtype {image.dtype}.")
    if kind == "dtype" or image.dtype == np.uint8:
        peak = float(np.iinfo(image.dtype).max)
        return (np.clip(image, 0, None) / peak).astype(np.float32)
    return _minmax(image)


def _percentile(image: np.ndarray, low: float, high: float) -> np.ndarray:
    x = _float(image)
    if x.size == 0 or np.isnan(x).all():
        return x.astype(np.float32)
    lo, hi = np.nanpercentile(x, [low, high])
    return _scale(x, float(lo), float(hi))


def apply_window(image: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map a window to ``[0, 1]``: ``center - width/2`` → 0, ``center + width/2`` → 1.

    Parameters
    ----------
    image : ndarray
        Values in the window's units (Hounsfield units for CT read by
        :func:`~skmedtl.io.read_image`).
    center, width : float
        The window; ``width`` must be positive.

    Returns
    -------
    ndarray of float32
        Same shape, clipped to ``[0, 1]``; NaN stays NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.io import apply_window
    >>> apply_window(np.array([-2000, -1350, -600, 150]), center=-600, width=1500)
    array([0. , 0. , 0.5, 1. ], dtype=float32)
    """
    center, width = _number(center, "center"), _number(width, "width")
    if width <= 0:
        raise ValueError(f"The window width must be positive; got {width}.")
    return _scale(_float(np.asarray(image)), center - width / 2, center + width / 2)


def scale_intensity(image: np.ndarray, intensity) -> np.ndarray:
    """Apply an intensity policy to an array already in memory.

    Parameters
    ----------
    image : ndarray
        One image or one volume (a volume is scaled as a whole).
    intensity : str, tuple, IntensityPolicy or None
        The policy, as for :func:`~skmedtl.io.read_image` (``"voi"`` needs a DICOM
        file and is not accepted here).

    Returns
    -------
    ndarray
        ``float32`` in ``[0, 1]``, or ``image`` itself for ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.io import scale_intensity
    >>> scale_intensity(np.array([[0, 1000], [2000, 4000]], dtype=np.uint16), "minmax")
    array([[0.  , 0.25],
           [0.5 , 1.  ]], dtype=float32)
    """
    return IntensityPolicy.from_spec(intensity)(image)
