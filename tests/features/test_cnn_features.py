"""CNNFeatures: inputs, invariances, frozen model, scikit-learn contract."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skmedtl import CNNFeatures
from skmedtl.exceptions import UnknownBackboneError
from tests._helpers import slow_except

from ..conftest import tiny_features

ATOL, RTOL = 1e-5, 1e-4


def test_output_is_float32_with_one_row_per_image(gray_images):
    features = tiny_features()
    out = features.fit_transform(gray_images)
    assert out.shape == (12, 512) and out.dtype == np.float32
    assert features.n_features_out_ == 512
    names = features.get_feature_names_out()
    assert names[0] == "resnet18_0" and len(names) == 512
    assert np.isfinite(out).all()
    assert not np.allclose(out[0], out[1])  # different images, different rows


def test_same_embedding_whatever_the_batch_size_and_order(gray_images):
    reference = tiny_features(batch_size=5).fit_transform(gray_images)
    for batch_size in (1, 7, 64):
        out = tiny_features(batch_size=batch_size).fit_transform(gray_images)
        np.testing.assert_allclose(out, reference, atol=ATOL, rtol=RTOL)
    order = np.random.default_rng(1).permutation(len(gray_images))
    shuffled = tiny_features(batch_size=4).fit_transform(gray_images[order])
    np.testing.assert_allclose(shuffled, reference[order], atol=ATOL, rtol=RTOL)


def test_array_layouts_and_greyscale_policy_agree(gray_images):
    features = tiny_features().fit(gray_images)
    expected = features.transform(gray_images)
    rgb = np.repeat(gray_images[..., None], 3, axis=-1)
    for X in (
        gray_images[..., None],
        rgb,
        np.moveaxis(rgb, -1, 1),
        gray_images[:, None],
        list(gray_images),
    ):
        np.testing.assert_allclose(
            features.transform(X), expected, atol=ATOL, rtol=RTOL
        )
    # uint8 and the same values as floats in [0, 1] are the same images
    np.testing.assert_allclose(
        features.transform(gray_images / 255.0), expected, atol=ATOL, rtol=RTOL
    )


@pytest.mark.parametrize("resize", ["stretch", "crop", "pad"])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "nearest"])
def test_greyscale_is_exactly_its_rgb_repeat_and_input_is_untouched(
    rng, resize, interpolation
):
    """Greyscale is resized once and repeated: the same numbers as the RGB path."""
    from skmedtl.features._preprocess import Preprocessing

    prep = Preprocessing(
        input_size=(24, 24),
        interpolation=interpolation,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        crop_pct=0.875,
        resize=resize,
    )
    grey = rng.integers(0, 256, (3, 37, 29), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    with torch.inference_mode():
        assert torch.equal(prep(grey), prep(rgb))
        assert torch.equal(prep(list(grey)), prep(rgb))
        # Normalised in place, but never in the caller's memory: a float32 batch
        # already at the input size comes out unchanged.
        unit = rng.random((2, 24, 24, 3), dtype=np.float32)
        before = unit.copy()
        out = prep(unit)
        np.testing.assert_array_equal(unit, before)
        if resize != "crop":  # at the input size: only normalised
            mean = np.asarray(prep.mean, np.float32)[:, None, None]
            std = np.asarray(prep.std, np.float32)[:, None, None]
            expected = (np.moveaxis(before, -1, 1) - mean) / std
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
        single = Preprocessing(
            **{**prep.__dict__, "channels": "mean", "mean": (0.5,), "std": (0.25,)}
        )
        one = rng.random((2, 24, 24), dtype=np.float32)
        kept = one.copy()
        single(one)
        np.testing.assert_array_equal(one, kept)


def test_colour_channels_are_not_collapsed(rng):
    rgb = rng.integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    features = tiny_features().fit(rgb)
    swapped = rgb[..., ::-1]
    assert not np.allclose(features.transform(rgb), features.transform(swapped))


def test_lists_of_images_of_different_sizes(rng):
    images = [
        rng.integers(0, 256, shape, dtype=np.uint8)
        for shape in [(20, 30), (40, 40, 3), (3, 25, 18), (64, 16)]
    ]
    features = tiny_features().fit(images)
    out = features.transform(images)
    assert out.shape == (4, 512)
    one_by_one = np.vstack([features.transform([img]) for img in images])
    np.testing.assert_allclose(out, one_by_one, atol=ATOL, rtol=RTOL)


def test_file_paths_give_the_same_embeddings_as_arrays(tmp_path, gray_images):
    paths = []
    for i, img in enumerate(gray_images[:4]):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    features = tiny_features().fit(paths)
    np.testing.assert_allclose(
        features.transform(paths),
        features.transform(gray_images[:4]),
        atol=ATOL,
        rtol=RTOL,
    )


def test_16_bit_images_keep_their_full_range(tmp_path):
    ramp = np.linspace(0, 4095, 32 * 32).reshape(1, 32, 32).astype(np.uint16)
    fine = ramp.copy()
    fine[0, :, ::2] += 7  # differences below 8 bits of a 12-bit image
    features = tiny_features().fit(ramp)
    a, b = features.transform(ramp), features.transform(fine)
    assert not np.allclose(a, b, atol=1e-6)
    # documented rule: integer types wider than 8 bits are min-max scaled per image
    minmax = (ramp - ramp.min()) / float(ramp.max() - ramp.min())
    np.testing.assert_allclose(a, features.transform(minmax), atol=ATOL, rtol=RTOL)
    # a 16-bit PNG file is read at 16 bits, so it agrees with the array
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp[0]).save(path)
    np.testing.assert_allclose(features.transform([str(path)]), a, atol=ATOL, rtol=RTOL)
    # "dtype" divides by 65535 instead: a different, equally explicit rule
    dtype_rule = tiny_features(intensity="dtype").fit(ramp).transform(ramp)
    np.testing.assert_allclose(
        dtype_rule, features.transform(ramp / 65535.0), atol=ATOL, rtol=RTOL
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.uint16])
def test_input_arrays_are_not_modified(gray_images, dtype):
    X = gray_images.astype(dtype)
    if X.dtype.kind == "f":
        X = X / 255.0 + 0.0005  # slightly above 1: clamped inside, not in X
        X = X.astype(dtype)
    original = X.copy()
    tiny_features().fit(X).transform(X)
    np.testing.assert_array_equal(X, original)


@pytest.mark.slow
def test_float_images_outside_unit_range_need_an_explicit_policy(gray_images):
    hounsfield = gray_images.astype(np.float32) * 8 - 1000
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*intensity='minmax'"):
        tiny_features().fit(hounsfield).transform(hounsfield)
    out = tiny_features(intensity="minmax").fit(hounsfield).transform(hounsfield)
    expected = (
        tiny_features()
        .fit(gray_images)
        .transform(
            (gray_images - gray_images.min(axis=(1, 2), keepdims=True))
            / np.ptp(gray_images, axis=(1, 2), keepdims=True)
        )
    )
    np.testing.assert_allclose(out, expected, atol=ATOL, rtol=RTOL)


def test_nan_is_reported_with_the_image_index(gray_images):
    X = gray_images / 255.0
    X[9, 3, 3] = np.nan
    features = tiny_features(batch_size=4).fit(X)
    with pytest.raises(ValueError, match="image 9 .*NaN"):
        features.transform(X)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((0, 28, 28), np.uint8), ValueError, "empty"),
        ([], ValueError, "empty"),
        (None, ValueError, "None"),
        (np.zeros((28, 28), np.uint8), ValueError, "single 2-D image"),
        (np.zeros((2, 28, 28, 5), np.uint8), ValueError, r"shape \(2, 28, 28, 5\)"),
        (np.zeros((2, 1, 28, 28, 1), np.uint8), ValueError, "Expected"),
        (np.array([["a"]], dtype=object), TypeError, "dtype"),
        ([np.zeros((8, 8)), "x.png"], TypeError, "mixes"),
        ("image.png", TypeError, "single path"),
        ([np.zeros((2, 8, 8, 8))], ValueError, r"X\[0\] has shape"),
        (np.zeros((2, 8, 8), dtype=complex), TypeError, "complex"),
    ],
)
def test_bad_inputs_give_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        tiny_features().fit(X)


def test_unreadable_and_missing_files_are_named(tmp_path, gray_images):
    features = tiny_features().fit(gray_images)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="broken.png"):
        features.transform([str(broken)])
    with pytest.raises(FileNotFoundError, match="missing.png"):
        features.transform([str(tmp_path / "missing.png")])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"backbone": "resnet5"}, "Did you mean 'resnet50'"),
        ({"pooling": "maen"}, "Unknown pooling 'maen'. Did you mean 'mean'"),
        ({"resize": "strech"}, "Did you mean 'stretch'"),
        ({"intensity": "min-max"}, "Did you mean 'minmax'"),
        ({"batch_size": 0}, "batch_size"),
        ({"device": "cuda:0" if not torch.cuda.is_available() else "tpu"}, "device"),
        ({"input_size": (3, 3)}, "input_size"),
        ({"layer": "layer5"}, "Did you mean 'layer4'"),
    ],
)
def test_bad_parameters_give_clear_errors(params, match, gray_images):
    with pytest.raises((ValueError, UnknownBackboneError), match=match):
        tiny_features(**params).fit(gray_images)


@pytest.mark.slow
def test_intermediate_layers_and_pooling(gray_images):
    layer3 = tiny_features(layer="layer3", input_size=64).fit(gray_images)
    assert layer3.transform(gray_images).shape == (12, 256)
    by_module = tiny_features(layer="layer3.1.bn2", input_size=64).fit(gray_images)
    np.testing.assert_allclose(
        by_module.transform(gray_images) > 0, by_module.transform(gray_images) > 0
    )
    assert by_module.n_features_out_ == 256
    avg, mx, gem = (
        tiny_features(pooling=p, input_size=64).fit_transform(gray_images)
        for p in ("avg", "max", "gem")
    )
    # ReLU feature maps are non-negative, so power means are ordered
    assert (mx >= gem - 1e-5).all() and (gem >= avg - 1e-5).all()
    assert not np.allclose(avg, mx)


def test_frozen_means_frozen(gray_images):
    features = tiny_features(backbone="resnet18").fit(gray_images)
    before = {k: v.clone() for k, v in features.model_.state_dict().items()}
    features.transform(gray_images)
    model = features.model_
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # BatchNorm statistics included


@pytest.mark.slow
def test_random_state_seeds_random_weights(gray_images):
    a = tiny_features(random_state=0).fit_transform(gray_images)
    b = tiny_features(random_state=0).fit_transform(gray_images)
    c = tiny_features(random_state=1).fit_transform(gray_images)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    rs = np.random.RandomState(3)
    d = tiny_features(random_state=rs).fit_transform(gray_images)
    assert d.shape == a.shape


@pytest.mark.slow
def test_vision_transformer_tokens_use_the_models_pooling(gray_images):
    vit = tiny_features("timm:test_vit", input_size=None).fit(gray_images)
    assert vit.transform(gray_images).shape == (12, vit.backbone_spec_.feature_dim)
    # max / gem pool the patch tokens; "cls" needs tokens.
    patch_max = tiny_features("timm:test_vit", input_size=None, pooling="max")
    assert patch_max.fit_transform(gray_images).shape == (12, 64)
    with pytest.raises(ValueError, match="tokens"):
        tiny_features(pooling="cls").fit_transform(gray_images)


@pytest.mark.parametrize("resize", slow_except("pad", ["crop", "pad"]))
def test_resize_modes(resize, rng):
    wide = rng.integers(0, 256, (2, 20, 60), dtype=np.uint8)
    square = rng.integers(0, 256, (2, 40, 40), dtype=np.uint8)
    stretch = tiny_features().fit(square)
    other = tiny_features(resize=resize).fit(square)
    assert other.transform(wide).shape == (2, 512)
    if resize == "pad":  # square images need no padding
        np.testing.assert_allclose(
            other.transform(square), stretch.transform(square), atol=ATOL, rtol=RTOL
        )
    assert not np.allclose(other.transform(wide), stretch.transform(wide))


# -- scikit-learn contract -------------------------------------------------------
def test_init_stores_parameters_and_fit_builds_the_model(gray_images):
    features = tiny_features()
    params = features.get_params()
    assert not hasattr(features, "model_")
    with pytest.raises(NotFittedError):
        features.transform(gray_images)
    features.fit(gray_images)
    assert features.get_params() == params
    assert not hasattr(clone(features), "model_")


def test_pickle_round_trip_gives_the_same_embeddings(gray_images):
    features = tiny_features().fit(gray_images)
    expected = features.transform(gray_images)
    restored = pickle.loads(pickle.dumps(features))
    np.testing.assert_array_equal(restored.transform(gray_images), expected)
    assert "_runtime" not in features.__getstate__()


@pytest.mark.slow
def test_pipeline_and_grid_search_use_each_backbone(gray_images):
    widths = []

    class RecordingLogisticRegression(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            widths.append(X.shape[1])
            return super().fit(X, y, sample_weight)

    y = np.arange(len(gray_images)) % 2
    pipe = Pipeline(
        [
            (
                "features",
                CNNFeatures(weights=None, random_state=0, input_size=32, verbose=0),
            ),
            ("clf", RecordingLogisticRegression()),
        ]
    )
    search = GridSearchCV(
        pipe, {"features__backbone": ["resnet18", "densenet121"]}, cv=2
    )
    search.fit(gray_images, y)
    assert set(widths) == {512, 1024}
    assert search.best_estimator_.named_steps["features"].backbone in {
        "resnet18",
        "densenet121",
    }
    assert search.predict(gray_images).shape == (12,)


def test_device_auto_resolves_to_an_available_device(gray_images):
    features = tiny_features(device="auto", backend="torch").fit(gray_images)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert features._engine().device.type == expected
