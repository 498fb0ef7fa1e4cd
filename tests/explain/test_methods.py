"""LayerCAM, CAM layers, gradient attributions, and the traced cell grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from skmedtl.explain import saliency
from skmedtl.explain._geometry import CellGrid, trace_cell_grid
from skmedtl.explain._gradients import gradient_maps
from skmedtl.features import Preprocessing

from .conftest import pointing_hits


class _Chain(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.out = nn.Identity()

    def forward(self, x):
        return self.out(self.body(x))


def _grid(*layers, size=8):
    net = _Chain(*layers)
    return trace_cell_grid(net, torch.zeros(1, 3, size, size), net.out)


def test_traced_grid_by_hand():
    # k=3, s=2, p=1: output i centred on input pixel 2i, i.e. 2i + 0.5.
    assert _grid(nn.Conv2d(3, 4, 3, 2, 1)) == CellGrid(0.5, 2.0, 0.5, 2.0)
    # Two of them: 0.5 + 2 * (1 - 1) = 0.5, step 4.
    grid = _grid(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, 2, 1))
    assert grid == CellGrid(0.5, 4.0, 0.5, 4.0)
    # Valid 2x2 pooling: output i covers 2i, 2i+1: centre 2i + 1 (the uniform one).
    assert _grid(nn.MaxPool2d(2)) == CellGrid.uniform((4, 4), (8, 8))
    # TF "same": pad 0 before, 1 after, then k=3, s=2: centre 2i + 1.5.
    import timm.layers

    conv = timm.layers.create_conv2d(3, 4, 3, stride=2, padding="same")
    assert _grid(conv) == CellGrid(1.5, 2.0, 1.5, 2.0)
    # Asymmetric kernel, F.pad on the left only: (k-1)/2 - 0 then -2 for the pad.
    grid = _grid(nn.ZeroPad2d((2, 0, 0, 0)), nn.Conv2d(3, 4, (1, 3)))
    assert grid == CellGrid(0.5, 1.0, 0.5 + 1.0 - 2.0, 1.0)


def test_untraceable_map_gives_none():
    class Up(nn.Module):
        def forward(self, x):
            return nn.functional.interpolate(x, scale_factor=0.5, mode="bilinear")

    assert _grid(Up()) is None


class _Linear(nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, x):
        score = (self.weight * x).sum(dim=(1, 2, 3))
        return torch.stack([-score / 2, score / 2], dim=1)


@pytest.mark.parametrize("method", ["gradxinput", "integrated_gradients"])
def test_gradient_maps_of_a_linear_score_by_hand(method):
    torch.manual_seed(0)
    weight = torch.randn(1, 3, 16, 16)
    x = torch.randn(2, 3, 16, 16)
    prep = Preprocessing((16, 16), "bilinear", (0.5, 0.4, 0.3), (0.2, 0.25, 0.5), 1.0)
    maps, target = gradient_maps(method, _Linear(weight), x, np.array([1, 1]), prep)
    reference = torch.tensor([-0.5 / 0.2, -0.4 / 0.25, -0.3 / 0.5])[:, None, None]
    # 16 px: no smoothing (sigma < 0.5); the class-1 score is (w . x) / 2.
    expected = (weight / 2 * (x - reference)).sum(dim=1)
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(target, [1, 1])


def test_layercam_gradients_and_layers_point_at_the_patch(planted_data, finetuned):
    _, (X, y, boxes) = planted_data
    # LayerCAM on the final map ("b4"): the default multiscale LayerCAM (b3,
    # b4) points at the patch in only 5 of 16 images of this tiny CNN, whose
    # stride-8 cells cannot tell the quadrants apart (see the report of #32).
    for method, layer in [
        ("layercam", "b4"),
        ("gradxinput", None),
        ("integrated_gradients", None),
    ]:
        maps = saliency(finetuned, X[:16], method, layer=layer)
        assert maps.shape == X[:16].shape
        assert pointing_hits(maps, boxes[:16]).mean() >= 0.8, method
    finer = saliency(finetuned, X[:8], "gradcam", layer="b3")
    both = saliency(finetuned, X[:8], "gradcam", layer=["b3", None])
    assert finer.shape == both.shape == X[:8].shape
    assert not np.allclose(finer, both)


def test_layer_errors(planted_data, finetuned):
    _, (X, _, _) = planted_data
    with pytest.raises(ValueError, match="Unknown layer 'b9'"):
        saliency(finetuned, X[:2], "gradcam", layer="b9")
    with pytest.raises(ValueError, match="layer is for the CAM"):
        saliency(finetuned, X[:2], "gradxinput", layer="b3")


def test_localisation_report_of_a_model(planted_data, finetuned):
    from skmedtl.explain import DEFAULT_METHOD, localisation_report, pointing_hit

    _, (X, y, boxes) = planted_data
    masks = []
    for r, c, h, w in boxes[:12]:
        mask = np.zeros(X.shape[1:], bool)
        mask[r : r + h, c : c + w] = True
        masks.append(mask)
    masks[3] = None  # an image without a region is not scored
    report = localisation_report(
        finetuned, X[:12], masks, tolerance=0, n_boot=100, batch_size=5
    )
    maps = saliency(finetuned, X[:12])
    expected = [pointing_hit(maps[i], masks[i], 0) for i in range(12) if i != 3]
    np.testing.assert_array_equal(report.hits, expected)
    assert report.n_skipped == 1 and report.method == DEFAULT_METHOD
    assert report.placement == "measured"  # the default's cell placement
    assert report.layer == "multiscale"  # LayerCAM's default: three maps fused
    traced = localisation_report(
        finetuned, X[:12], masks, tolerance=0, n_boot=0, placement="traced"
    )
    assert traced.placement == "traced"
    final = localisation_report(
        finetuned, X[:4], masks[:4], n_boot=0, method="gradcam", placement="traced"
    )
    assert final.layer == "final" and final.method == "gradcam"
    maps = saliency(finetuned, X[:12], placement="traced")
    hits = [pointing_hit(maps[i], masks[i], 0) for i in range(12) if i != 3]
    np.testing.assert_array_equal(traced.hits, hits)
    assert report.rows[0].pointing_game.estimate == pytest.approx(np.mean(expected))
    with pytest.raises(ValueError, match="one region"):
        localisation_report(finetuned, X[:3], masks[:2])
