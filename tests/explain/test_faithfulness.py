"""Do the maps show what decides the prediction? Planted signals, sanity checks.

- Pointing game: the class of each image is decided by a bright patch at a
  class-specific position; the maximum of a faithful map lies in the patch.
- Model randomisation (Adebayo et al., 2018, "Sanity checks for saliency
  maps"): re-initialising the top block of the trained network must change the
  maps, while explaining the same model twice gives identical maps.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from skmedtl.explain import saliency

from .conftest import pointing_hits

pytest.importorskip("pytorch_grad_cam")

#: A black square a little larger than the planted patch, in steps of 2 px. (A
#: grey square, or one smaller than the patch, leaves or adds evidence: the
#: occluder is itself an object in the image.)
OCCLUSION = dict(patch_size=14, stride=2, fill="min")


def test_the_planted_task_is_learned(planted_data, finetuned, hybrid):
    _, (X, y, _) = planted_data
    assert (finetuned.predict(X) == y).mean() >= 0.95
    assert (hybrid.predict(X) == y).mean() >= 0.95


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam"])
def test_pointing_game_cam_on_the_network(planted_data, finetuned, method):
    _, (X, y, boxes) = planted_data
    maps = saliency(finetuned, X, method)
    assert maps.shape == X.shape
    assert (pointing_hits(maps, boxes).mean()) >= 0.9


def test_pointing_game_occlusion_on_the_hybrid(planted_data, hybrid):
    _, (X, y, boxes) = planted_data
    maps = saliency(hybrid, X, "occlusion", **OCCLUSION)
    assert maps.shape == X.shape
    assert pointing_hits(maps, boxes).mean() >= 0.9


def test_pointing_game_occlusion_on_the_network(planted_data, finetuned):
    _, (X, y, boxes) = planted_data
    maps = saliency(finetuned, X, "occlusion", **OCCLUSION)
    assert pointing_hits(maps, boxes).mean() >= 0.9


def _reinitialise_top_block(clf, seed=0):
    clf = copy.deepcopy(clf)
    name, modules = clf.model_.block_groups()[-1]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module_name in modules:
            for m in clf.model_.backbone.get_submodule(module_name).modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
    clf._runtime = None
    return clf, name


def test_model_randomisation_changes_the_maps(planted_data, finetuned):
    _, (X, y, _), = planted_data
    _, trained = saliency(finetuned, X, "gradcam", target=y, return_raw=True)
    again = saliency(finetuned, X, "gradcam", target=y, return_raw=True)[1]
    np.testing.assert_array_equal(trained, again)  # same model, same maps

    randomised, block = _reinitialise_top_block(finetuned)
    assert block == "b4"
    _, random_maps = saliency(randomised, X, "gradcam", target=y, return_raw=True)
    rho = [
        spearmanr(a.ravel(), b.ravel()).statistic
        for a, b in zip(trained, random_maps, strict=True)
    ]
    assert np.nanmean(rho) < 0.5, rho
    # The reference: the trained model's maps of two runs agree perfectly.
    assert spearmanr(trained[0].ravel(), again[0].ravel()).statistic == (
        pytest.approx(1.0)
    )


def test_explaining_leaves_the_model_as_it_was(planted_data, finetuned):
    _, (X, _, _) = planted_data
    network = finetuned.model_
    state = {k: v.clone() for k, v in network.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in network.parameters()]
    before = finetuned.predict_proba(X)
    saliency(finetuned, X[:4], "gradcam")
    saliency(finetuned, X[:4], "hirescam", target=0)
    for module in network.modules():
        assert not module._forward_hooks
        assert not module._forward_pre_hooks
        assert not module._backward_hooks
    for p, g in zip(network.parameters(), grads, strict=True):
        assert (p.grad is None) if g is None else torch.equal(p.grad, g)
    for k, v in network.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    assert not network.training
    np.testing.assert_array_equal(finetuned.predict_proba(X), before)
