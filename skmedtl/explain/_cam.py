"""Grad-CAM, Grad-CAM++ and HiResCAM through the ``grad-cam`` package."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CAM_METHODS", "cam_maps"]

#: The CAM family: method name -> class name in ``pytorch_grad_cam``.
CAM_METHODS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
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


def cam_maps(
    method: str,
    network,
    x: torch.Tensor,
    target: np.ndarray | None,
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

    Returns
    -------
    maps : tensor of shape (n, fh, fw)
        The method's map over the feature grid, before any ReLU or scaling.
    target : ndarray of int
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = _cam_class(method)
    reshape = token_grid(network, tuple(x.shape[-2:]))
    layer = network.fmap
    blocks = getattr(network.extractor.model, "blocks", None)
    if reshape is not None and network.extractor.layer_module is None and blocks:
        # A vision transformer: the class token alone reaches the head, so the
        # patch tokens of the last feature map get no gradient. The usual
        # target is the input of the last block's attention (its first norm).
        layer = getattr(blocks[-1], "norm1", layer)
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
