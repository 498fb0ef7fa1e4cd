"""Occlusion internals, and the same maps on a GPU as on the CPU."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from skmedtl.explain import saliency
from skmedtl.explain._occlusion import _at_centres, _starts, occlusion_maps


def test_patches_reach_the_border():
    assert _starts(32, 10, 4) == [0, 4, 8, 12, 16, 20, 22]
    assert _starts(10, 10, 3) == [0]


def test_drop_is_placed_at_the_occluder_centre():
    ys, xs = _starts(30, 6, 3), _starts(40, 6, 3)
    grid = np.zeros((len(ys), len(xs)))
    grid[3, 5] = 1.0  # the occluder at (9, 15), centre (12, 18)
    m = _at_centres(grid, ys, xs, (30, 40), (6, 6))
    i, j = np.unravel_index(np.argmax(m), m.shape)
    assert (i + 0.5, j + 0.5) in {(11.5, 17.5), (12.5, 18.5), (11.5, 18.5),
                                  (12.5, 17.5)}
    assert m.shape == (30, 40) and m.min() == 0.0


def test_occlusion_of_a_known_model():
    """A 'model' whose probability is the mean of a fixed window: the exact map."""
    def predict_proba(batch):
        batch = np.asarray(batch, dtype=float) / 255
        p = batch[:, 8:16, 20:28].mean(axis=(1, 2))
        return np.stack([1 - p, p], axis=1)

    image = np.full((32, 40), 255, dtype=np.uint8)
    base = predict_proba(image[None])
    [m] = occlusion_maps(predict_proba, [image], base, np.array([1]),
                         patch_size=8, stride=4, fill=0.0, batch_size=7)
    i, j = np.unravel_index(np.argmax(m), m.shape)
    assert 8 <= i < 16 and 20 <= j < 28
    assert m.max() > 0.85  # the window fully hidden (a drop of 1) nearby
    assert m[28:, :8].max() == pytest.approx(0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cam_on_the_gpu_matches_the_cpu(planted_data, finetuned):
    pytest.importorskip("pytorch_grad_cam")
    _, (X, _, _) = planted_data
    gpu = copy.deepcopy(finetuned)
    gpu.device = "cuda"
    gpu._runtime = None
    cpu_maps = saliency(finetuned, X[:8], "gradcam", return_raw=True)[1]
    gpu_maps = saliency(gpu, X[:8], "gradcam", return_raw=True)[1]
    assert gpu._runtime[1].type == "cuda"  # the maps were computed there
    np.testing.assert_allclose(gpu_maps, cpu_maps, rtol=1e-3, atol=1e-4)
