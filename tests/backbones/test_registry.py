"""The registry: names, metadata computed from the real modules, block groups."""

from __future__ import annotations

import pytest
import torch

from skmedtl.backbones import (
    BackboneSpec,
    create_backbone,
    get_backbone,
    list_backbones,
    register_backbone,
)
from skmedtl.exceptions import UnknownBackboneError
from skmedtl.features._extractor import FeatureExtractor

REQUIRED = [
    "lenet5",
    "alexnet",
    "vgg16",
    "vgg19",
    "googlenet",
    "inception_v3",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "densenet121",
    "densenet169",
    "densenet201",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "xception",
    "inception_resnet_v2",
    "inception_v4",
]


def test_review_models_and_modern_peers_are_registered():
    assert set(REQUIRED) <= set(list_backbones())
    assert list_backbones("densenet*") == ["densenet121", "densenet169", "densenet201"]
    assert "lenet5" not in list_backbones(pretrained=True)
    assert "resnet50" in list_backbones(pretrained=True)


@pytest.mark.parametrize(
    "name, total, features",
    [
        ("resnet50", 25.6, 23.5),
        ("vgg16", 138.4, 14.7),
        ("inception_v3", 23.8, 21.8),
        ("alexnet", 61.1, 2.5),
        ("densenet121", 8.0, 7.0),
    ],
)
def test_parameter_counts_match_the_published_table(name, total, features):
    spec = get_backbone(name)
    assert round(spec.n_params / 1e6, 1) == total
    assert round(spec.n_params_features / 1e6, 1) == features


def test_parameter_counts_equal_those_of_a_built_model():
    spec = get_backbone("resnet18")
    model = create_backbone("resnet18", weights=None)
    assert spec.n_params == sum(p.numel() for p in model.parameters())
    assert spec.n_params - spec.n_params_features == sum(
        p.numel() for p in model.fc.parameters()
    )


def test_unknown_backbone_suggests_the_closest_name():
    with pytest.raises(UnknownBackboneError, match=r"Did you mean 'resnet50'\?") as e:
        get_backbone("resnet5")
    assert "list_backbones()" in str(e.value)
    with pytest.raises(ValueError):  # also a ValueError for generic handlers
        get_backbone("vgg61")


def test_unknown_timm_model_suggests_the_closest_name():
    with pytest.raises(UnknownBackboneError, match="Did you mean"):
        get_backbone("timm:test_resnett")


def test_timm_prefix_gives_a_spec_for_any_timm_model():
    spec = get_backbone("timm:test_resnet")
    assert spec.source == "timm"
    assert spec.feature_dim > 0
    assert get_backbone("timm:test_resnet") is spec  # specs are cached


def test_duplicate_registration_is_refused():
    spec = get_backbone("resnet18")
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(spec)


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError, match="string"):
        get_backbone(50)


def _small_size(spec: BackboneSpec) -> int:
    if spec.name == "lenet5":
        return 32
    # Inception-style stems need about 75 px; everything else runs at 64.
    return 96 if spec.input_size[0] >= 299 else 64


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_registry_contract(name):
    """Builds with random weights; width equals the spec; groups cover the model."""
    spec = get_backbone(name)
    model = create_backbone(name, weights=None, random_state=0)
    assert not model.training

    size = _small_size(spec)
    with torch.inference_mode():
        out = FeatureExtractor(spec, model, None, "avg")(torch.rand(2, 3, size, size))
    assert out.shape == (2, spec.feature_dim)
    assert torch.isfinite(out).all()

    # Every parameter belongs to exactly one block group or to the head.
    owner = {}
    for group, modules in spec.block_groups(model):
        for module in modules:
            for p in model.get_submodule(module).parameters():
                assert id(p) not in owner, f"{group} overlaps {owner.get(id(p))}"
                owner[id(p)] = group
    head = spec.head_modules(model)
    assert head, "a head is needed for the feature_extractor strategy"
    for module in head:
        for p in model.get_submodule(module).parameters():
            assert id(p) not in owner, f"head {module} overlaps a block group"
            owner[id(p)] = "head"
    assert {id(p) for p in model.parameters()} == set(owner)
    assert len(spec.block_group_names) >= 3


def test_summary_has_the_registry_metadata():
    summary = get_backbone("efficientnet_lite0").summary()
    assert summary["family"] == "EfficientNet-Lite"
    assert summary["year"] == 2020
    assert summary["feature_dim"] == 1280
    assert summary["weights"]["imagenet"]["license"] == "Apache-2.0"
    assert summary["block_groups"][0] == "stem"
