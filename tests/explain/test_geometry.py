"""Maps come back in each image's own pixels: resize 'stretch', 'crop', 'pad'."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skmedtl.explain import saliency
from skmedtl.explain._geometry import to_image_geometry
from skmedtl.features import Preprocessing

from .conftest import fit_network, planted, pointing_hits


def _preprocessing(resize, input_size=(32, 32), crop_pct=0.875):
    return Preprocessing(
        input_size=input_size,
        interpolation="bilinear",
        mean=(0.0,) * 3,
        std=(1.0,) * 3,
        crop_pct=crop_pct,
        resize=resize,
    )


@pytest.mark.parametrize("resize", ["stretch", "crop", "pad"])
@pytest.mark.parametrize("shape", [(48, 80), (90, 36), (20, 20)])
def test_inverse_of_the_real_preprocessing(resize, shape):
    """Preprocess an image, map the network input back: the image returns.

    The forward direction is skmedtl's own preprocessing, so this checks the
    inverse against the code the models run, for non-square images too.
    """
    rng = np.random.default_rng(0)
    h, w = shape
    image = np.zeros(shape, dtype=np.float32)
    r, c = int(h * 0.3), int(w * 0.55)  # a bright block off-centre
    image[r : r + h // 5, c : c + w // 5] = 0.95
    image += rng.uniform(0, 0.05, shape).astype(np.float32)
    prep = _preprocessing(resize, input_size=(40, 56))
    x = prep(image[None])[0, 0]  # the network input, channel 0
    back = to_image_geometry(x[None], [shape], prep)[0]
    assert back.shape == shape
    seen = back > 0
    if resize != "crop":
        assert seen.all()
    # Where the network saw the image, the round trip reproduces it (up to the
    # blur of resampling at the block's edges; a shift of one pixel would fail).
    err = np.abs(back - image)[seen]
    assert err.mean() < 0.03
    assert np.quantile(err, 0.97) < 0.25
    i, j = np.unravel_index(np.argmax(back), shape)
    assert r <= i < r + h // 5 and c <= j < c + w // 5


def test_crop_leaves_unseen_pixels_at_zero():
    prep = _preprocessing("crop", input_size=(32, 32), crop_pct=1.0)
    back = to_image_geometry(torch.ones(1, 4, 4), [(32, 64)], prep)[0]
    # The centre crop keeps columns 16..47 of a 32 x 64 image.
    assert back[:, 16:48].min() == 1.0
    assert back[:, :16].max() == 0.0 and back[:, 48:].max() == 0.0


def test_pad_uses_only_the_image_region():
    prep = _preprocessing("pad", input_size=(32, 32))
    grid = torch.zeros(1, 32, 32)
    grid[0, 8:24, :] = torch.arange(32.0)  # the image occupies rows 8..23
    grid[0, :8] = 100.0  # padding: must not appear in the image's map
    grid[0, 24:] = 100.0
    back = to_image_geometry(grid, [(16, 32)], prep)[0]
    assert back.shape == (16, 32)
    assert back.max() < 32
    np.testing.assert_allclose(back[0], np.arange(32.0), atol=1e-5)


@pytest.fixture(scope="module")
def cropped():
    """Trained on 32 x 48 images centre-cropped to 32 x 32 (the patch inside)."""
    corners = [(r, c + 8) for r, c in ((2, 2), (2, 20), (20, 2), (20, 20))]
    X, y, _ = planted(160, 2, size=(32, 48), corners=corners)
    test = planted(24, 3, size=(32, 48), corners=corners)
    return fit_network(X, y, resize="crop"), test


@pytest.fixture(scope="module")
def padded():
    """Trained on 24 x 32 images padded to 32 x 32."""
    corners = [(0, 2), (0, 20), (14, 2), (14, 20)]
    X, y, _ = planted(160, 4, size=(24, 32), corners=corners)
    test = planted(24, 5, size=(24, 32), corners=corners)
    return fit_network(X, y, resize="pad"), test


@pytest.mark.parametrize("case", ["cropped", "padded"])
def test_map_peaks_at_the_patch_in_the_original_image(case, request):
    model, (X, y, boxes) = request.getfixturevalue(case)
    assert model.preprocessing_.resize == case[:-3].replace("padd", "pad")
    maps = saliency(model, X, "gradcam")
    assert maps.shape == X.shape  # non-square, the images' own size
    assert pointing_hits(maps, boxes).mean() >= 0.9
    if case == "cropped":  # the margins the crop removed were never seen
        assert maps[:, :, :8].max() == 0 and maps[:, :, 40:].max() == 0


def test_images_of_different_sizes_give_a_list(finetuned):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(32, 32), (40, 24)]]
    maps = saliency(finetuned, images, "gradcam")
    assert isinstance(maps, list)
    assert [m.shape for m in maps] == [(32, 32), (40, 24)]


class _ShiftedNet(torch.nn.Module):
    """A 5 x 5 convolution with one non-zero tap, then 8 x 8 average pooling.

    The tap at ``(r, c)`` makes output pixel ``p`` copy input pixel ``p + (r, c)
    - 2``: each cell of the pooled map averages the input 8 x 8 block that its
    traced receptive field is centred on, moved by ``(r - 2, c - 2)`` pixels.
    The trace sees only the kernel's size, so it cannot tell.
    """

    def __init__(self, tap):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 5, padding=2, bias=False)
        with torch.no_grad():
            self.set_tap(tap)
        self.pool = torch.nn.AvgPool2d(8)

    def set_tap(self, tap):
        self.conv.weight.zero_()
        self.conv.weight[0, :, tap[0], tap[1]] = 1.0

    def forward(self, x):
        return self.pool(self.conv(x))


@pytest.mark.parametrize("tap", [(0, 4), (2, 2), (3, 1)])
def test_measured_grid_moves_by_the_known_shift(tap):
    from skmedtl.explain._geometry import cell_grid

    net = _ShiftedNet(tap)
    x = torch.zeros(1, 3, 64, 64)
    traced = cell_grid(net, x, net.pool, "traced", (0.0,) * 3, (1.0,) * 3)
    measured = cell_grid(net, x, net.pool, "measured", (0.0,) * 3, (1.0,) * 3)
    # Traced: 5 x 5 with padding 2 keeps the pixel centres, the 8 x 8 pooling
    # centres cell i on 8 i + 4, whatever the tap.
    assert (traced.offset_y, traced.step_y, traced.offset_x, traced.step_x) == (
        4.0,
        8.0,
        4.0,
        8.0,
    )
    # Measured: cell i averages input rows 8 i + r - 2 .. 8 i + r + 5, centred
    # on 8 i + 4 + (r - 2). The white square tiles the input in 4 px steps;
    # the centroid of the squared responses sampled on those tiles is exact
    # for an even shift and 0.23 px short of an odd one (weights 3, 4, 1 on
    # three tiles: squared, 9 : 16 : 1), a 35th of a cell. The neutral inputs'
    # faint texture (+-0.1 against the square's 1) moves it by under 0.05 px.
    for offset, shift in (
        (measured.offset_y, tap[0] - 2),
        (measured.offset_x, tap[1] - 2),
    ):
        tolerance = 0.05 if shift % 2 == 0 else 0.25
        assert offset == pytest.approx(4.0 + shift, abs=tolerance)
    assert (measured.step_y, measured.step_x) == (8.0, 8.0)


def test_measured_grid_is_cached_per_weights_and_input_size():
    from skmedtl.explain._geometry import cell_grid

    net = _ShiftedNet((0, 0))
    calls = []
    net.pool.register_forward_hook(lambda *args: calls.append(1))

    def measured(size=64):
        x = torch.zeros(1, 3, size, size)
        return cell_grid(
            net, x, net.pool, "measured", (0.0,) * 3, (1.0,) * 3, owner=net, key="pool"
        )

    first = measured()
    n_calls = len(calls)
    assert measured() == first
    assert len(calls) == n_calls  # a cached grid runs no forward pass, no trace
    assert first.offset_y == pytest.approx(2.0, abs=0.05)
    assert measured(48).offset_y == pytest.approx(2.0, abs=0.05)  # measured again
    assert len(calls) > n_calls + 3
    with torch.no_grad():
        net.set_tap((4, 4))  # new weights, in place: measured again
    assert measured().offset_y == pytest.approx(6.0, abs=0.05)
