"""Grad-CAM, Grad-CAM++, HiResCAM and LayerCAM through the ``grad-cam`` package."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CAM_METHODS", "cam_layers", "cam_maps"]

#: The CAM family: method name -> class name in ``pytorch_grad_cam``.
CAM_METHODS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "layercam": "LayerCAM",
}


def _cam_class(method: str):
    try:
        import pytorch_grad_cam
    except ImportError as e:
        raise ImportError(
            f"method={method!r} needs the grad-cam package: "
            "pip install \"skmedtl[explain]\" (or use method='occlusion')."
        ) from e
    return getattr(pytorch_grad_cam, CAM_METHODS[method])


def _has_tokens(network) -> bool:
    model = network.extractor.model
    patch_embed = getattr(model, "patch_embed", None)
    return (
        getattr(patch_embed, "patch_size", None) is not None
        and getattr(model, "num_prefix_tokens", None) is not None
    )


def token_grid(network, input_size: tuple[int, int]):
    """A ``reshape_transform`` for token feature maps (vision transformers).

    Drops the prefix tokens (class, register tokens) and lays the patch tokens
    out on the patch grid, channels first. ``None`` for a convolutional map.
    """
    model = network.extractor.model
    patch_embed = getattr(model, "patch_embed", None)
    patch = getattr(patch_embed, "patch_size", None)
    n_prefix = getattr(model, "num_prefix_tokens", None)
    if patch is None or n_prefix is None:
        return None
    ph, pw = (patch, patch) if isinstance(patch, int) else patch
    gh, gw = input_size[0] // ph, input_size[1] // pw

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 3:
            return tokens
        grid = tokens[:, n_prefix:]
        if grid.shape[1] != gh * gw:
            raise NotImplementedError(
                f"Cannot lay {grid.shape[1]} tokens out on a {gh} x {gw} patch grid "
                "for a CAM; use method='occlusion'."
            )
        return grid.reshape(grid.shape[0], gh, gw, -1).permute(0, 3, 1, 2)

    return reshape


#: ``layer=MULTISCALE``: the final map and the last maps at strides 16 and 8.
MULTISCALE = "multiscale"


def default_layer(method: str) -> str | None:
    """The layer a CAM method explains when none is given (None: the final map).

    LayerCAM fuses the maps at strides 8, 16 and the last (:data:`MULTISCALE`):
    its element-wise weights keep the finer maps' detail.
    """
    return MULTISCALE if method == "layercam" else None


def _multiscale(network, x) -> list:
    """The last block groups at strides 8 and 16 (input pixels per cell), final."""
    from ..features._extractor import resolve_layer
    from ._geometry import trace_cell_grids

    extractor = network.extractor
    names = [g for g, _ in extractor.spec.block_groups(extractor.model)]
    modules = [
        extractor.model.get_submodule(resolve_layer(extractor.spec, extractor.model, g))
        for g in names
    ]
    grids = trace_cell_grids(network, x, modules)
    chosen: list = []
    for stride in (8, 16):
        last = [
            g
            for g, grid in zip(names, grids, strict=True)
            if grid is not None and grid.step_y == stride
        ]
        if last:
            chosen.append(last[-1])
    return [*chosen, None]


def cam_layers(network, layer, x=None) -> list[tuple[str, object]]:
    """The modules whose output the CAM explains: ``[(name, module)]``.

    ``None`` is the feature map the model pools (for a vision transformer, the
    input of the last block's attention); a block group of the backbone
    (``"layer3"``, ``"blocks.4"``: see ``BackboneSpec.block_group_names``) or a
    module name is an earlier, finer map of the same network (the prediction
    still runs through the whole model); a list gives several (their maps are
    averaged); ``"multiscale"`` is the last maps at strides 8 and 16 and the
    final one (traced on the input ``x``).
    """
    from ..features._extractor import resolve_layer

    if layer == MULTISCALE:
        if x is None:
            raise ValueError("layer='multiscale' needs an input to trace strides.")
        layer = _multiscale(network, x[:1])

    names = [layer] if layer is None or isinstance(layer, str) else list(layer)
    if not names:
        raise ValueError("layer must be None, a layer name or a non-empty list.")
    extractor = network.extractor
    out = []
    for name in names:
        if name is None:
            module = network.fmap
            blocks = getattr(extractor.model, "blocks", None)
            if _has_tokens(network) and extractor.layer_module is None and blocks:
                # A vision transformer: the class token alone reaches the head,
                # so the patch tokens of the last feature map get no gradient.
                # The usual target is the input of the last block's attention.
                module = getattr(blocks[-1], "norm1", module)
            out.append(("final", module))
            continue
        if not isinstance(name, str):
            raise TypeError(
                f"layer must be None, a layer name or a list of names; got {name!r}."
            )
        module_name = resolve_layer(extractor.spec, extractor.model, name)
        out.append((name, extractor.model.get_submodule(module_name)))
    return out


def cam_maps(
    method: str,
    network,
    x: torch.Tensor,
    target: np.ndarray | None,
    layer=None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Raw CAMs over the network input and the class index explained.

    Parameters
    ----------
    method : str
        A key of :data:`CAM_METHODS`.
    network : ScoreNetwork
        Scores with the feature map passing through ``network.fmap``.
    x : tensor of shape (n, 3, H, W)
        Normalised images on the network's device.
    target : ndarray of int or None
        Class index per image; ``None`` takes the highest score.
    layer : nn.Module, optional
        The module explained (from :func:`cam_layers`); default: the final map.

    Returns
    -------
    maps : tensor of shape (n, fh, fw)
        The method's map over the feature grid, before any ReLU or scaling.
    target : ndarray of int
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = _cam_class(method)
    reshape = token_grid(network, tuple(x.shape[-2:]))
    if layer is None:
        layer = cam_layers(network, None)[0][1]
    cam = cls(model=network, target_layers=[layer], reshape_transform=reshape)
    hooks = cam.activations_and_grads
    try:
        # Gradients even when the caller runs under inference_mode or no_grad.
        with torch.inference_mode(False), torch.enable_grad():
            x = x.detach().clone().requires_grad_(True)
            scores = hooks(x)
            if target is None:
                target = scores.argmax(dim=1).cpu().numpy()
            index = torch.as_tensor(target, device=scores.device)
            picked = scores.gather(1, index[:, None]).sum()
            # Only the input's gradient is asked for: the tensor hooks on the
            # feature map record its gradient, and no parameter's .grad changes.
            torch.autograd.grad(picked, x)
        if not hooks.activations or not hooks.gradients:
            raise RuntimeError("The CAM hooks recorded no feature map gradient.")
        activations = hooks.activations[0].float().numpy()
        gradients = hooks.gradients[0].float().numpy()
        if activations.ndim != 4:
            raise NotImplementedError(
                f"method={method!r} needs a feature map of shape (n, c, h, w); this "
                f"backbone gives {activations.shape}. Use method='occlusion'."
            )
        targets = [ClassifierOutputTarget(int(t)) for t in target]
        maps = cam.get_cam_image(
            x, layer, targets, activations, gradients, eigen_smooth=False
        )
    finally:
        hooks.release()
        del cam
    return torch.as_tensor(np.asarray(maps, dtype=np.float32)), np.asarray(target)
