"""saliency(): where a fitted model looks, in each image's own pixels."""

from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm.auto import tqdm

from .._constants import CAM_PLACEMENTS, DEFAULT_CAM_PLACEMENT, DEFAULT_SALIENCY_METHOD
from ..utils._naming import check_choice
from ..utils._validation import check_int
from ._cam import CAM_METHODS, cam_layers, cam_maps, default_layer, token_grid
from ._geometry import CellGrid, cell_grid, to_image_geometry
from ._gradients import GRADIENT_METHODS, gradient_maps
from ._models import resolve_model
from ._occlusion import occlusion_maps

__all__ = ["METHODS", "saliency"]

logger = logging.getLogger(__name__)

#: The saliency methods: the CAM family and the gradient attributions (need
#: gradients) and occlusion (needs only ``predict_proba``).
METHODS = (*CAM_METHODS, *GRADIENT_METHODS, "occlusion")

#: The default method, chosen on the planted-lesion benchmark
#: (``benchmarks/explain/RESULTS.md``).
DEFAULT_METHOD = DEFAULT_SALIENCY_METHOD


def saliency(
    model,
    X,
    method: str = DEFAULT_METHOD,
    *,
    target=None,
    layer=None,
    placement: str | None = None,
    patch_size: int | tuple[int, int] | None = None,
    stride: int | tuple[int, int] | None = None,
    fill: str | float = "mean",
    batch_size: int = 32,
    return_raw: bool = False,
    verbose: int = 0,
):
    """Saliency maps of a fitted model: which pixels drive its prediction.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~skmedtl.finetune.FineTuneClassifier`, a fitted hybrid
        (:func:`~skmedtl.make_hybrid`, or any ``Pipeline`` whose first step is
        :class:`~skmedtl.CNNFeatures`, possibly after an
        :class:`~skmedtl.io.ImageLoader`), or a fitted ``GridSearchCV`` around
        either (its ``best_estimator_`` is explained).
    X : array-like or list
        Images as the model takes them: an array ``(n, h, w)`` /
        ``(n, h, w, c)``, a list of arrays (sizes may differ) or file paths.
    method : {"gradcam", "gradcam++", "hirescam", "layercam", "gradxinput", \
            "integrated_gradients", "occlusion"}, default=DEFAULT_METHOD
        The CAM family (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM, from the
        ``grad-cam`` package, ``pip install "skmedtl[explain]"``) explains a
        feature map (``layer``); the gradient attributions (gradient x input,
        integrated gradients with a black reference) attribute to the input
        pixels. Both need gradients through the whole model, so for a hybrid the
        head must be linear (logistic regression, linear SVM) after an optional
        ``StandardScaler`` / ``PCA``: these are composed with the backbone into
        one torch module. ``"occlusion"`` slides a patch over each image and
        records the drop of the target's probability: it needs only
        ``predict_proba`` (SVM, random forest, XGBoost heads) and costs one
        prediction per patch position. The default is the method that localised
        planted lesions best (``benchmarks/explain/RESULTS.md``).
    target : label, array-like of labels or None, default=None
        The class explained: ``None`` takes the predicted class, except for two
        classes, where the positive class (``classes_[1]``) is explained for
        every image; a label of ``classes_`` explains that class for every
        image; an array gives one label per image.
    layer : str, list of str or None, default=None
        CAM family only: the feature map explained. ``None``: for
        ``"layercam"``, ``"multiscale"`` (below: LayerCAM is made to fuse
        stages, and this measured best); for the other CAMs, the map the model
        pools (``CNNFeatures(layer=...)`` if set; for vision transformers the
        input of the last block's attention); a block group of the backbone
        (``BackboneSpec.block_group_names()``: ``"layer3"`` of a ResNet,
        ``"blocks.4"`` of an EfficientNet, 14 x 14 at 224 px) or a module name
        explains an earlier, finer map while the prediction still runs through
        the whole model; a list (``None`` for the final map) averages the maps
        of several layers, each scaled to a maximum of 1 (multi-layer CAM);
        ``"multiscale"`` is the last maps at strides 8 and 16 (input pixels per
        cell, traced) and the final map.
    placement : {"measured", "traced"} or None, default=None
        CAM family only: where each cell's value is placed on the input (``None``:
        ``"measured"``). ``"measured"``: where the network's central cells respond
        to a white square on a faintly textured input of the mean colour (the traced
        grid shifted by their mean offset; measured once per network weights, layer
        and input size: two textures, one forward pass per 32 square positions, at
        most 256 positions each); ``"traced"``: the centres of the cells' receptive
        fields, traced through the convolutions, poolings and paddings (for a token
        map, the patch grid).
    patch_size, stride : int or (int, int), default=None
        Occlusion only, in pixels of the original image: the patch (default
        1/8 of the shorter side) and its step (default half the patch).
    fill : "mean", "min" or float, default="mean"
        Occlusion only: the patch's value: the image's mean (a grey square,
        as in Zeiler & Fergus, 2014), its minimum (black: the absence of
        signal in most medical images) or a constant in the image's own units.
    batch_size : int, default=32
        Images per forward and backward pass (CAM), or occluded copies per
        ``predict_proba`` call (occlusion).
    return_raw : bool, default=False
        Also return the raw maps.
    verbose : int, default=0
        1 shows a progress bar.

    Returns
    -------
    maps : ndarray of shape (n, h, w) or list of ndarray
        One map per image in the image's own pixels (the resize to the network
        input, ``"stretch"``, ``"crop"`` or ``"pad"``, undone), float32,
        normalised per image to ``[0, 1]``: negative values set to 0, then
        divided by the maximum (all zeros when nothing speaks for the target).
        With ``resize="crop"``, pixels that the crop cut away are 0. A list when
        the images differ in size.
    raw : ndarray or list of ndarray
        With ``return_raw=True``: the maps before normalisation (for the CAM
        family, the method's map before its ReLU, bilinearly interpolated; for
        occlusion, the mean drop in probability, signed).

    Notes
    -----
    Maps are computed on the model's device, in float32, with the model in eval
    mode. Nothing is left on the model: the CAM hooks sit on a wrapper (for
    vision transformers, on the last block) and are removed after each batch,
    and only the input's gradient is computed (no parameter's ``.grad``
    changes), so a model unpickled in a fresh process, explained, pickles again.

    Vision transformers (timm) are explained at the input of the last block's
    attention, the patch tokens laid out on the patch grid.

    Each cell of a CAM is placed where that cell looks: its receptive field's
    centre, traced through the network's convolutions, poolings and paddings
    (:func:`~skmedtl.explain._geometry.trace_cell_grid`), not the centre of an
    even tiling of the input (which is off by half a cell for stride-2
    convolutions on even-sized inputs, symmetric or TF "same" padding alike),
    and by default moved to where the trained network's central cells respond
    (:func:`~skmedtl.explain._geometry.measure_cell_grid`): the ImageNet
    EfficientNet-Lite0 and Lite1 respond 10-16 px up and left of their traced
    centres.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl import make_hybrid
    >>> from skmedtl.explain import saliency
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (8, 40, 30), dtype=np.uint8)
    >>> y = np.array([0, 1] * 4)
    >>> model = make_hybrid("resnet18", "logreg", weights=None, random_state=0,
    ...                     input_size=64, verbose=0).fit(X, y)
    >>> maps = saliency(model, X[:2], method="gradcam")
    >>> maps.shape, float(maps.max())
    ((2, 40, 30), 1.0)
    >>> saliency(model, X[:2], method="occlusion", patch_size=10).shape
    (2, 40, 30)
    """
    check_choice("method", method, METHODS)
    if placement is not None:
        check_choice("placement", placement, CAM_PLACEMENTS)
        if method not in CAM_METHODS:
            raise ValueError(
                f"placement is for the CAM methods, not {method!r} (which has no "
                "feature cells to place)."
            )
    check_int("batch_size", batch_size, 1)
    # Gradients need tensors made outside inference mode, even when the caller
    # runs under it.
    with torch.inference_mode(False):
        explained = resolve_model(model)
        images = explained.read(X)
        n = len(images)
        target_idx = _target_indices(target, explained.classes, n)
        if method == "occlusion":
            all_images = [images[i] for i in range(n)]
            batch = _as_batch(all_images)
            base = np.asarray(explained.predict_proba(batch))
            if target_idx is None:
                target_idx = base.argmax(axis=1)
            raw = occlusion_maps(
                explained.predict_proba,
                all_images,
                base,
                target_idx,
                patch_size=patch_size,
                stride=stride,
                fill=fill,
                batch_size=batch_size,
                verbose=verbose,
            )
        else:
            if layer is not None and method in GRADIENT_METHODS:
                raise ValueError(
                    f"layer is for the CAM methods, not {method!r} (which "
                    "attributes to the input pixels)."
                )
            if patch_size is not None or stride is not None:
                raise ValueError(
                    f"patch_size and stride are for method='occlusion', not {method!r}."
                )
            if explained.network is None:
                raise ValueError(
                    f"method={method!r} needs gradients through the whole model, "
                    f"but {explained.no_gradient}. Use method='occlusion', which "
                    "needs only predict_proba."
                )
            if layer is None:
                layer = default_layer(method)
            raw = _gradient_based(
                method,
                explained,
                images,
                target_idx,
                layer,
                placement or DEFAULT_CAM_PLACEMENT,
                batch_size,
                verbose,
            )
    maps = [_normalise(r) for r in raw]
    maps, raw = _stack(maps), _stack(raw)
    return (maps, raw) if return_raw else maps


def _gradient_based(
    method, explained, images, target_idx, layer, placement, batch_size, verbose
):
    network, device = explained.network()
    prep = explained.preprocessing
    network.eval()
    layers = None
    grids: dict[str, CellGrid | None] = {}
    out = []
    n = len(images)
    with tqdm(
        total=n, desc=method, unit="img", disable=verbose <= 0, leave=False
    ) as bar:
        for a in range(0, n, batch_size):
            b = min(a + batch_size, n)
            batch = images.batch(a, b)
            names = [images.describe(i) for i in range(a, b)]
            shapes = [img.shape[:2] for img in batch]
            with torch.no_grad():
                x = explained.preprocessing(batch, device, names)
            target = None if target_idx is None else target_idx[a:b]
            if layers is None:
                layers = cam_layers(network, layer, x) if method in CAM_METHODS else []
            if not layers:
                grid, _ = gradient_maps(
                    method, network, x, target, explained.preprocessing
                )
                out += to_image_geometry(grid, shapes, explained.preprocessing)
                bar.update(b - a)
                continue
            per_layer = []
            for name, module in layers:
                if name not in grids:  # where the layer's cells sit on the input
                    extractor = network.extractor
                    grids[name] = cell_grid(
                        network,
                        x[:1],
                        module,
                        placement,
                        prep.mean,
                        prep.std,
                        owner=extractor.model,
                        key=(name, extractor.layer_module),
                        reshape=token_grid(network, tuple(x.shape[-2:])),
                    )
                grid, _ = cam_maps(method, network, x, target, module)
                per_layer.append(
                    to_image_geometry(
                        grid, shapes, explained.preprocessing, grids[name]
                    )
                )
            if len(per_layer) == 1:
                out += per_layer[0]
            else:  # several layers: the mean of their maps, each scaled to max 1
                out += [
                    np.mean([_normalise(maps[i]) for maps in per_layer], axis=0)
                    for i in range(b - a)
                ]
            bar.update(b - a)
    return out


def _target_indices(target, classes: np.ndarray, n: int) -> np.ndarray | None:
    """Column of ``classes`` explained per image; ``None``: the predicted one."""
    if target is None:
        return np.ones(n, dtype=int) if len(classes) == 2 else None
    labels = np.asarray(target, dtype=object)
    if labels.ndim == 0:
        labels = np.full(n, target, dtype=object)
    elif labels.shape != (n,):
        raise ValueError(
            f"target must be None, one class label or one label per image ({n}); "
            f"got an array of shape {labels.shape}."
        )
    lookup = {label: i for i, label in enumerate(classes.tolist())}
    out = np.empty(n, dtype=int)
    for i, label in enumerate(labels):
        key = label.item() if hasattr(label, "item") else label
        if key not in lookup:
            raise ValueError(
                f"target {label!r} is not a class of the model; classes are "
                f"{classes.tolist()}."
            )
        out[i] = lookup[key]
    return out


def _as_batch(images: list[np.ndarray]):
    shapes = {(img.shape, img.dtype) for img in images}
    return np.stack(images) if len(shapes) == 1 else images


def _normalise(raw: np.ndarray) -> np.ndarray:
    positive = np.maximum(raw, 0)
    peak = positive.max()
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros_like(raw, dtype=np.float32)
    return (positive / peak).astype(np.float32)


def _stack(maps: list[np.ndarray]):
    if len({m.shape for m in maps}) == 1:
        return np.stack(maps)
    return maps
