"""Name schemes (timm:, hf-hub:, open_clip:, hf:, txrv:), token pooling and weights
files as users have them. Tiny random models; weights written by the tests into a
temporary hub cache; never a download."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pytest
import torch

from skmedtl import CNNFeatures
from skmedtl.backbones import (
    WeightsFile,
    create_backbone,
    get_backbone,
    list_schemes,
)
from skmedtl.exceptions import UnknownBackboneError, WeightsUnavailableError

from ._hub import save_safetensors, snapshot, write_json

TINY_VIT_REPO = "skmedtl-test/tiny-vit"
#: A timm ViT of two blocks, width 64, 32x32 input in 8x8 patches.
TINY_VIT_ARGS = {"img_size": 32, "patch_size": 8, "depth": 2, "dynamic_img_size": True}
TINY_VIT_CFG = {
    "input_size": [3, 32, 32],
    "interpolation": "bicubic",
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
    "crop_pct": 1.0,
    "classifier": "head",
    "num_classes": 10,
}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty Hugging Face hub cache and torchxrayvision cache under tmp_path."""
    cache = tmp_path / "hf_hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("SKMEDTL_TXRV_CACHE", str(tmp_path / "txrv"))
    return cache


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 40, 36), dtype=np.uint8)


def _tiny_vit_repo(hub, model=None):
    """``hf-hub:skmedtl-test/tiny-vit``: config.json and weights of a random ViT."""
    import timm

    folder = snapshot(hub, TINY_VIT_REPO)
    write_json(
        folder,
        "config.json",
        {
            "architecture": "test_vit",
            "num_classes": 10,
            "model_args": TINY_VIT_ARGS,
            "pretrained_cfg": TINY_VIT_CFG,
        },
    )
    if model is None:
        torch.manual_seed(0)
        model = timm.create_model("test_vit", num_classes=10, **TINY_VIT_ARGS)
    save_safetensors(model, folder / "model.safetensors")
    return model


def _features(backbone, **kwargs):
    params = dict(verbose=0, backend="torch", batch_size=4)
    params.update(kwargs)
    return CNNFeatures(backbone, **params)


# -- the registry ------------------------------------------------------------------
def test_schemes_are_listed_with_their_extra():
    schemes = {s.prefix: s for s in list_schemes()}
    assert set(schemes) == {"timm:", "hf-hub:", "open_clip:", "hf:", "txrv:"}
    assert schemes["open_clip:"].extra == "foundation"
    assert schemes["hf:"].extra == "foundation"
    assert schemes["txrv:"].extra == "txrv"
    for scheme in schemes.values():
        assert scheme.example.startswith(scheme.prefix)


def test_unknown_scheme_suggests_the_right_one():
    with pytest.raises(UnknownBackboneError, match="Did you mean 'timm'"):
        get_backbone("tim:resnet18")
    with pytest.raises(UnknownBackboneError, match="Did you mean"):
        get_backbone("timm:vit_smal_patch16_224")


def test_registry_does_not_import_scheme_modules():
    # The prefix resolver broke the _registry <-> _timm import cycle.
    import ast
    import inspect

    from skmedtl.backbones import _registry

    tree = ast.parse(inspect.getsource(_registry))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {"_timm", "_torchvision", "_hf", "_open_clip", "_txrv"} & imported


def test_missing_library_names_the_extra(monkeypatch):
    import sys

    from skmedtl.backbones import _registry

    monkeypatch.setitem(sys.modules, "torchxrayvision", None)  # "not installed"
    _registry._resolve.cache_clear()
    with pytest.raises(ImportError, match=r'pip install "skmedtl\[txrv\]"'):
        get_backbone("txrv:densenet121-res224-all")
    _registry._resolve.cache_clear()


# -- offline: each scheme names what to download and where, fast ---------------------
@pytest.mark.parametrize(
    "name, names_what",
    [
        (
            "timm:vit_small_patch14_dinov2.lvd142m",
            "timm/vit_small_patch14_dinov2.lvd142m",
        ),
        (
            "hf-hub:timm/vit_base_patch16_224.augreg_in21k",
            "timm/vit_base_patch16_224.augreg_in21k",
        ),
        (
            "open_clip:hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
            "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
        ),
        ("open_clip:ViT-B-32.openai", "timm/vit_base_patch32_clip_224.openai"),
        ("hf:microsoft/rad-dino", "microsoft/rad-dino"),
        ("txrv:densenet121-res224-all", "releases/download/v1/nih-pc-chex"),
    ],
)
def test_offline_failure_names_file_and_cache_path(hub, tmp_path, name, names_what):
    # Importing the library is not waiting for the network: done before timing.
    library = {
        "open_clip": "open_clip",
        "hf": "transformers",
        "txrv": "torchxrayvision",
    }
    pytest.importorskip(library.get(name.split(":")[0], "timm"))
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as info:
        _features(name).fit(np.zeros((1, 32, 32), np.uint8))
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert names_what in message
    # ... and the folder it must be placed in (our temporary caches).
    assert str(hub) in message or str(tmp_path / "txrv") in message
    assert "SKMEDTL_OFFLINE" in message


# -- timm ViT: by path, by the hub cache, identical ------------------------------------
def test_timm_vit_by_path_by_tag_and_by_hub_cache_give_identical_embeddings(
    hub, tmp_path, images
):
    model = create_backbone("timm:test_vit", weights=None, random_state=0)
    path = save_safetensors(model, tmp_path / "test_vit.safetensors")
    # timm's own pretrained tag, resolved from the hub cache.
    save_safetensors(
        model, snapshot(hub, "timm/test_vit.r160_in1k") / "model.safetensors"
    )
    by_path = _features(
        "timm:test_vit", weights=str(path), input_size=64
    ).fit_transform(images)
    by_tag = _features("timm:test_vit.r160_in1k", input_size=64).fit_transform(images)
    np.testing.assert_array_equal(by_path, by_tag)
    assert by_path.shape == (5, 64)
    # An independent computation: timm's forward_features + forward_head.
    f = _features("timm:test_vit", weights=str(path), input_size=64).fit(images)
    x = f.preprocessing_(images)
    with torch.inference_mode():
        expected = model.forward_head(model.forward_features(x), pre_logits=True)
    np.testing.assert_allclose(by_path, expected.numpy(), atol=1e-5)


def test_hf_hub_repo_loads_from_cache_like_the_file(hub, tmp_path, images):
    model = _tiny_vit_repo(hub)
    path = save_safetensors(model, tmp_path / "tiny.safetensors")
    spec = get_backbone("hf-hub:" + TINY_VIT_REPO)
    assert spec.input_size == (32, 32)
    assert spec.block_group_names == ["stem", "blocks.0", "blocks.1"]
    assert spec.family == "timm test model"
    by_hub = _features("hf-hub:" + TINY_VIT_REPO).fit_transform(images)
    by_file = _features("hf-hub:" + TINY_VIT_REPO, weights=path).fit_transform(images)
    np.testing.assert_array_equal(by_hub, by_file)


# -- token pooling ------------------------------------------------------------------
def test_token_poolings_have_documented_widths_and_values(hub, images):
    _tiny_vit_repo(hub)
    name = "hf-hub:" + TINY_VIT_REPO
    out = {
        p: _features(name, pooling=p).fit(images)
        for p in ("avg", "cls", "mean", "cls+mean")
    }
    width = {p: f.n_features_out_ for p, f in out.items()}
    assert width == {"avg": 64, "cls": 64, "mean": 64, "cls+mean": 128}
    assert get_backbone(name).token_dim == 64
    f = out["cls+mean"]
    x = f.preprocessing_(images)
    with torch.inference_mode():
        tokens = f.model_.forward_features(x)  # (n, 1 + 16, 64)
    assert tokens.shape[1] == 17
    both = f.transform(images)
    np.testing.assert_allclose(both[:, :64], tokens[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(both[:, 64:], tokens[:, 1:].mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(out["cls"].transform(images), both[:, :64], atol=1e-6)
    np.testing.assert_allclose(out["mean"].transform(images), both[:, 64:], atol=1e-6)


def test_token_embeddings_do_not_depend_on_batch_size(hub, images):
    _tiny_vit_repo(hub)
    name = "hf-hub:" + TINY_VIT_REPO
    one = _features(name, pooling="cls+mean", batch_size=1).fit_transform(images)
    five = _features(name, pooling="cls+mean", batch_size=5).fit_transform(images)
    np.testing.assert_allclose(one, five, atol=1e-5)


def test_intermediate_block_of_a_vit(hub, images):
    _tiny_vit_repo(hub)
    name = "hf-hub:" + TINY_VIT_REPO
    f = _features(name, layer="blocks.0", pooling="mean").fit(images)
    x = f.preprocessing_(images)
    with torch.inference_mode():
        m = f.model_
        t = m.norm_pre(m._pos_embed(m.patch_embed(x)))
        t = m.blocks[0](t)
    np.testing.assert_allclose(f.transform(images), t[:, 1:].mean(1), atol=1e-5)


def test_token_poolings_refuse_a_cnn(images):
    f = CNNFeatures("resnet18", weights=None, input_size=32, pooling="cls", verbose=0)
    with pytest.raises(ValueError, match="needs a vision transformer"):
        f.fit_transform(images)


@pytest.mark.parametrize("input_size", [None, 48])
def test_vit_through_onnx_runtime_at_any_input_size(hub, images, input_size):
    pytest.importorskip("onnxruntime")
    model = _tiny_vit_repo(hub).eval()  # native size 32; dynamic position embeddings
    name = "hf-hub:" + TINY_VIT_REPO
    f = _features(
        name, pooling="cls+mean", backend="onnxruntime", input_size=input_size
    )
    out = f.fit_transform(images)
    assert type(f._engine()).__name__ == "OnnxEngine"
    x = f.preprocessing_(images)
    assert x.shape[-1] == (input_size or 32)
    with torch.inference_mode():  # timm resampling position embeddings itself
        tokens = model.forward_features(x)
    expected = torch.cat([tokens[:, 0], tokens[:, 1:].mean(1)], 1)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-4)


def test_vit_embeddings_through_the_cache_keyed_by_the_weights(hub, tmp_path, images):
    import pickle

    from sklearn.base import clone

    from skmedtl.cache import EmbeddingCache

    _tiny_vit_repo(hub)
    name = "hf-hub:" + TINY_VIT_REPO
    cache = tmp_path / "emb.h5"
    f = _features(name, pooling="cls", cache_path=cache).fit(images)
    first = f.transform(images)
    again = clone(f).fit(images)
    np.testing.assert_array_equal(again.transform(images), first)
    restored = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(restored.transform(images), first)
    # Other weights under the same name: another namespace, new embeddings.
    torch.manual_seed(1)
    import timm

    _tiny_vit_repo(hub, timm.create_model("test_vit", num_classes=10, **TINY_VIT_ARGS))
    other = _features(name, pooling="cls", cache_path=cache).fit(images)
    assert (
        other.feature_config_["weights_digest"] != f.feature_config_["weights_digest"]
    )
    assert not np.allclose(other.transform(images), first)
    assert len(EmbeddingCache(cache, mode="r").info().namespaces) == 2


# -- weights files as users have them -------------------------------------------------
def test_foreign_head_and_headless_checkpoints_load_with_a_log_line(
    tmp_path, images, caplog
):
    model = create_backbone("timm:test_vit", weights=None, random_state=0)
    state = model.state_dict()
    full = save_safetensors(state, tmp_path / "full.safetensors")
    # Fine-tuned for 3 classes, saved by DataParallel inside {"state_dict": ...}.
    finetuned = {k: v for k, v in state.items() if not k.startswith("head.")}
    finetuned["head.weight"] = torch.randn(3, 64)
    finetuned["head.bias"] = torch.randn(3)
    torch.save(
        {"state_dict": {"module." + k: v for k, v in finetuned.items()}, "epoch": 7},
        tmp_path / "finetuned.pth",
    )
    # Saved without its head, with a "model." prefix.
    headless = {"model." + k: v for k, v in state.items() if not k.startswith("head.")}
    torch.save(headless, tmp_path / "headless.pth")

    reference = _features(
        "timm:test_vit", weights=str(full), input_size=64
    ).fit_transform(images)
    for file, reason in (
        ("finetuned.pth", "does not fit this model"),
        ("headless.pth", "the file has no classifier head"),
    ):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="skmedtl.backbones._weights"):
            out = _features(
                "timm:test_vit", weights=str(tmp_path / file), input_size=64
            ).fit_transform(images)
        assert any(
            reason in r.getMessage() and "ignored the head" in r.getMessage()
            for r in caplog.records
        ), caplog.text
        np.testing.assert_array_equal(out, reference)


def test_resnet_checkpoint_of_another_task_loads(tmp_path, images, caplog):
    # The failure: "size mismatch for fc.weight" / "missing keys fc.*".
    model = create_backbone("resnet18", weights=None, random_state=0)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    ref = _features("resnet18", weights=None, random_state=0, input_size=32)
    expected = ref.fit_transform(images)
    state["fc.weight"], state["fc.bias"] = torch.zeros(2, 512), torch.zeros(2)
    torch.save(state, tmp_path / "two_class.pt")
    with caplog.at_level(logging.INFO):
        out = _features(
            "resnet18", weights=str(tmp_path / "two_class.pt"), input_size=32
        )
        np.testing.assert_array_equal(out.fit_transform(images), expected)
    assert "ignored the head" in caplog.text
    # A body that does not fit still fails, naming the tensor.
    state["layer1.0.conv1.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="layer1.0.conv1.weight"):
        create_backbone("resnet18", weights=tmp_path / "broken.pt")


def test_weights_path_that_is_a_directory_or_unreadable(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "model.pth").write_bytes(b"")
    with pytest.raises(IsADirectoryError, match="is a directory.*model.pth"):
        create_backbone("resnet18", weights=tmp_path / "ckpt")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read weights file"):
        create_backbone("resnet18", weights=bad)
    if os.geteuid() != 0:  # root reads anything
        bad.chmod(0)
        with pytest.raises(PermissionError, match="cannot be read"):
            create_backbone("resnet18", weights=bad)


def test_weights_file_overrides_mean_std_and_channels(tmp_path):
    from skmedtl.backbones._weights import adapt_first_conv

    model = create_backbone("resnet18", weights=None, random_state=0)
    adapt_first_conv(model, 1)
    path = save_safetensors(model, tmp_path / "radimagenet_like.safetensors")
    weights = WeightsFile(path, mean=(0.4,), std=(0.2,), in_chans=1, input_size=32)
    f = _features("resnet18", weights=weights).fit(np.zeros((1, 8, 8), np.uint8))
    assert f.preprocessing_.mean == (0.4,) and f.preprocessing_.channels == "mean"
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)
    colour = np.repeat(grey[..., None], 3, axis=-1)
    x = (torch.from_numpy(grey).float()[:, None] / 255 - 0.4) / 0.2
    with torch.inference_mode():
        expected = model.avgpool(
            torch.nn.Sequential(*list(model.children())[:-2])(x)
        ).flatten(1)
    np.testing.assert_allclose(f.transform(grey), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(f.transform(colour), expected.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="one value per input channel"):
        get_backbone("resnet18").data_config(WeightsFile(path, mean=(0.4, 0.4)))


# -- transformers (hf:) ---------------------------------------------------------------
def _tiny_hf_vit(hub):
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    model = transformers.ViTModel(config, add_pooling_layer=False)
    folder = snapshot(hub, "skmedtl-test/tiny-hf-vit")
    model.save_pretrained(folder)
    write_json(
        folder,
        "preprocessor_config.json",
        {
            "do_resize": True,
            "size": {"height": 32, "width": 32},
            "image_mean": [0.3, 0.3, 0.3],
            "image_std": [0.2, 0.2, 0.2],
            "resample": 2,
        },
    )
    return model, folder


def test_transformers_vit_from_hub_cache_and_folder(hub, images):
    model, folder = _tiny_hf_vit(hub)
    name = "hf:skmedtl-test/tiny-hf-vit"
    spec = get_backbone(name)
    assert spec.block_group_names == ["stem", "block0", "block1"]
    assert spec.n_params == sum(p.numel() for p in model.parameters())
    assert (spec.family, spec.year) == ("ViT", 2020)
    assert spec.data_config("imagenet").mean == (0.3, 0.3, 0.3)
    assert spec.data_config("imagenet").interpolation == "bilinear"
    f = _features(name, pooling="cls+mean").fit(images)
    assert f.n_features_out_ == 64
    x = f.preprocessing_(images)
    with torch.inference_mode():
        tokens = model(pixel_values=x).last_hidden_state
    expected = torch.cat([tokens[:, 0], tokens[:, 1:].mean(1)], 1)
    np.testing.assert_allclose(f.transform(images), expected.numpy(), atol=1e-5)
    local = _features("hf:" + str(folder), pooling="cls+mean").fit_transform(images)
    np.testing.assert_allclose(local, expected.numpy(), atol=1e-5)


# -- open_clip ----------------------------------------------------------------------
def test_open_clip_image_tower_from_hub_cache(hub, images):
    open_clip = pytest.importorskip("open_clip")
    model_cfg = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 2,
            "width": 32,
            "patch_size": 8,
            "head_width": 16,
        },
        "text_cfg": {
            "context_length": 8,
            "vocab_size": 64,
            "width": 16,
            "heads": 2,
            "layers": 1,
        },
    }
    torch.manual_seed(0)
    clip = open_clip.model.CLIP(**model_cfg)
    folder = snapshot(hub, "skmedtl-test/tiny-clip")
    write_json(
        folder,
        "open_clip_config.json",
        {
            "model_cfg": model_cfg,
            "preprocess_cfg": {"mean": [0.4] * 3, "std": [0.3] * 3},
        },
    )
    save_safetensors(clip, folder / "open_clip_model.safetensors")
    name = "open_clip:hf-hub:skmedtl-test/tiny-clip"
    spec = get_backbone(name)
    assert (spec.feature_dim, spec.token_dim) == (16, 32)
    assert spec.n_params == sum(p.numel() for p in clip.visual.parameters())
    assert spec.block_group_names == ["stem", "block0", "block1"]
    f = _features(name).fit(images)  # "avg": CLIP's own image embedding
    assert f.preprocessing_.mean == (0.4, 0.4, 0.4)
    x = f.preprocessing_(images)
    with torch.inference_mode():
        expected = clip.encode_image(x)
    np.testing.assert_allclose(f.transform(images), expected.numpy(), atol=1e-5)
    assert _features(name, pooling="cls+mean").fit(images).n_features_out_ == 64


# -- torchxrayvision ------------------------------------------------------------------
def test_txrv_one_channel_scaled_to_1024(hub, tmp_path, images):
    xrv = pytest.importorskip("torchxrayvision")
    spec = get_backbone("txrv:densenet121-res224-all")
    config = spec.data_config("imagenet")
    assert (config.in_chans, config.input_size) == (1, (224, 224))
    assert spec.block_group_names == ["stem", "block1", "block2", "block3", "block4"]
    # torchxrayvision's file format: a pickled model, in its cache folder.
    torch.manual_seed(0)
    model = xrv.models.DenseNet(weights=None, num_classes=18, in_channels=1)
    url = xrv.models.model_urls["densenet121-res224-all"]["weights_url"]
    (tmp_path / "txrv").mkdir()
    torch.save(model, tmp_path / "txrv" / os.path.basename(url))
    f = _features("txrv:densenet121-res224-all", input_size=32).fit(images)
    x = f.preprocessing_(np.array([[[0, 255]]], dtype=np.uint8))
    assert x.shape[1] == 1
    np.testing.assert_allclose(x[0, 0].flatten()[[0, -1]], [-1024, 1024])
    x = f.preprocessing_(images)
    with torch.inference_mode():
        expected = torch.relu(model.eval().features(x)).mean(dim=(2, 3))
    np.testing.assert_allclose(
        f.transform(images), expected.numpy(), rtol=1e-4, atol=1e-3
    )


# -- a ViT through the hybrid, fine-tuning and the study ----------------------------
def test_vit_through_make_hybrid_and_fine_tune_top_block(hub, images):
    from skmedtl import FineTuneClassifier, make_hybrid

    _tiny_vit_repo(hub)
    name = "hf-hub:" + TINY_VIT_REPO
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (16, 32, 32), dtype=np.uint8)
    y = np.repeat([0, 1], 8)
    X[y == 1, 8:24, 8:24] = 255
    hybrid = make_hybrid(name, "logreg", pooling="cls+mean", verbose=0, backend="torch")
    assert hybrid.fit(X, y).predict(X).shape == (16,)
    assert hybrid[0].n_features_out_ == 128

    before = create_backbone(name).state_dict()
    clf = FineTuneClassifier(
        name,
        strategy="fine_tune",
        trainable_blocks=1,
        max_epochs=1,
        batch_size=8,
        lr=1e-2,
        validation_fraction=None,
        early_stopping=False,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    after = clf.model_.backbone.state_dict()
    changed = {k for k in before if k in after and not torch.equal(before[k], after[k])}
    top = {k for k in before if k.startswith(("blocks.1.", "norm."))}
    assert changed and changed <= top  # only the top block (and the final norm)
    assert {k for k in top if k.endswith("weight")} & changed
    assert clf.predict_proba(X).shape == (16, 2)


@pytest.mark.parametrize(
    "strategy", ["feature_extractor", "gradual", "full", "random_init"]
)
def test_every_fine_tuning_strategy_runs_on_a_vit(hub, strategy):
    from skmedtl import FineTuneClassifier

    _tiny_vit_repo(hub)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 32, 32), dtype=np.uint8)
    y = np.repeat([0, 1], 6)
    clf = FineTuneClassifier(
        "hf-hub:" + TINY_VIT_REPO,
        strategy=strategy,
        pooling="cls+mean",
        max_epochs=2,
        batch_size=6,
        patience=1,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    assert clf.model_.head.in_features == 128
    assert clf.predict_proba(X).shape == (12, 2)


def test_vit_in_a_quick_study(hub, tmp_path):
    from skmedtl.study import TransferStudy

    _tiny_vit_repo(hub)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 16), ("val", 8), ("test", 8)):
        labels = np.repeat([0, 1], n // 2)
        imgs = rng.integers(60, 200, (n, 16, 16), dtype=np.uint8)
        imgs[labels == 1, 4:12, 4:12] = 250
        arrays[f"{split}_images"] = imgs
        arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", **arrays)
    results = TransferStudy(
        tmp_path / "tiny.npz",
        tmp_path / "out",
        profile="quick",
        backbones=["lenet5", "hf-hub:" + TINY_VIT_REPO],
        approaches=["hybrid-logreg", "fine_tune:1"],
        weights="imagenet",
        input_size=32,
        train_input_size=32,
        max_epochs=1,
        n_bootstraps=20,
        verbose=0,
    )
    with pytest.raises(ValueError, match="no pretrained weights"):
        results.plan()  # lenet5 has none: the study says so
    study = TransferStudy(
        tmp_path / "tiny.npz",
        tmp_path / "out",
        profile="quick",
        backbones=["hf-hub:" + TINY_VIT_REPO],
        approaches=["hybrid-logreg", "fine_tune:1"],
        input_size=32,
        train_input_size=32,
        max_epochs=1,
        n_bootstraps=20,
        verbose=0,
    ).run()
    text = (tmp_path / "out" / "results.jsonl").read_text()
    assert TINY_VIT_REPO in text
    assert study is not None


def test_command_line_lists_the_schemes_and_table_1_covers_new_families(capsys, hub):
    from skmedtl.cli import main

    assert main(["backbones", "lenet*"]) == 0
    out = capsys.readouterr().out
    for prefix in ("timm:", "hf-hub:", "open_clip:", "hf:", "txrv:"):
        assert prefix in out
    assert 'pip install "skmedtl[txrv]"' in out
    pytest.importorskip("torchxrayvision")
    row = get_backbone("txrv:densenet121-res224-all").summary()
    assert row["year"] == 2022 and row["n_params"] > row["n_params_features"] > 6e6
    vit = get_backbone("timm:vit_small_patch14_dinov2.lvd142m").summary()
    assert (vit["family"], vit["year"]) == ("DINOv2", 2023)
    assert 21e6 < vit["n_params"] < 23e6  # ViT-S/14: 22M
