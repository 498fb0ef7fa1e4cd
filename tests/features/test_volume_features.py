"""VolumeFeatures and ImageLoader in Pipelines that output pandas."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmedtl.features import VolumeFeatures
from skmedtl.io import ImageLoader
from tests.conftest import tiny_features

pd = pytest.importorskip("pandas")


@pytest.fixture
def volumes(gray_images):
    return np.stack([gray_images[i : i + 8] for i in range(4)])


def test_feature_names_follow_the_slice_features(volumes):
    step = VolumeFeatures(tiny_features("lenet5"), axis=0, step=4, pooling="max")
    out = step.fit_transform(volumes)
    names = step.get_feature_names_out()
    assert len(names) == out.shape[1] == step.n_features_out_
    assert names[0] == "max_lenet5_0" and len(set(names)) == len(names)


def test_feature_names_without_names_from_the_extractor(volumes):
    class Flat:  # a 2-D extractor without get_feature_names_out
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return np.asarray(X, dtype=np.float32).reshape(len(X), -1)[:, :5]

        def get_params(self, deep=True):
            return {}

        def set_params(self, **params):
            return self

    step = VolumeFeatures(Flat(), axis=0).fit(volumes)
    assert list(step.get_feature_names_out()) == [
        f"volumefeatures{i}" for i in range(5)
    ]


def test_volume_pipeline_outputs_pandas(volumes):
    pipe = make_pipeline(
        VolumeFeatures(tiny_features("lenet5"), axis=0, step=4), StandardScaler()
    ).set_output(transform="pandas")
    frame = pipe.fit_transform(volumes)
    assert isinstance(frame, pd.DataFrame) and frame.shape[0] == len(volumes)
    assert list(frame.columns) == list(pipe[0].get_feature_names_out())
    clf = make_pipeline(
        VolumeFeatures(tiny_features("lenet5"), axis=0, step=4), LogisticRegression()
    ).set_output(transform="pandas")
    clf.fit(volumes, [0, 1, 0, 1])
    assert clf.predict_proba(volumes).shape == (4, 2)


def test_loader_pipeline_outputs_pandas(tmp_path, gray_images):
    paths = []
    for i, image in enumerate(gray_images[:4]):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    pipe = make_pipeline(ImageLoader(), tiny_features("lenet5")).set_output(
        transform="pandas"
    )
    frame = pipe.fit_transform(paths)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(pipe[-1].get_feature_names_out())
    expected = tiny_features("lenet5").fit(gray_images[:4]).transform(gray_images[:4])
    np.testing.assert_allclose(frame.to_numpy(), expected, rtol=1e-5, atol=1e-6)
    # images stay images: the loader's own output is not a table
    assert isinstance(pipe[0].transform(paths), np.ndarray)
