"""ImageLoader: a Pipeline step from paths to arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skmedtl.datasets import load_folder
from skmedtl.io import ImageLoader, ImageReadError, read_image

from ..conftest import tiny_features
from ._helpers import BLOOD_CELL_CLASSES, BLOOD_CELLS, DICOM, write_truncated_jpeg


@pytest.fixture(scope="module")
def blood_cells():
    return load_folder(BLOOD_CELLS)


@pytest.mark.slow
def test_pipeline_fits_and_predicts_on_blood_cell_paths(blood_cells):
    paths, labels, class_names = blood_cells
    pipe = Pipeline(
        [
            ("loader", ImageLoader()),
            ("features", tiny_features()),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    pipe.fit(paths, labels)
    predicted = pipe.predict(paths)
    assert predicted.shape == (len(paths),)
    assert set(predicted) <= set(range(len(class_names)))
    assert pipe.predict_proba(paths[:3]).shape == (3, 8)
    # the loader only reads: same embeddings as CNNFeatures on the decoded arrays
    images = [read_image(p) for p in paths[:4]]
    direct = tiny_features().fit(images).transform(images)
    np.testing.assert_allclose(
        pipe[:-1].transform(paths[:4]), direct, rtol=1e-4, atol=1e-5
    )
    # a linear probe on 512 random-CNN features separates 32 training images
    assert (predicted == labels).mean() > 0.9


def test_grid_search_splits_paths_and_tunes_the_intensity(blood_cells):
    paths, labels, _ = blood_cells
    pipe = Pipeline(
        [
            ("loader", ImageLoader()),
            ("features", tiny_features("lenet5", input_size=None)),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    search = GridSearchCV(
        pipe,
        {"loader__intensity": [None, "minmax"]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
    )
    search.fit(paths, labels)
    assert search.best_params_["loader__intensity"] in (None, "minmax")
    assert search.predict(paths[:5]).shape == (5,)


def test_output_is_stacked_when_shapes_agree(tmp_path, rng):
    paths = []
    for i in range(3):
        np.save(tmp_path / f"{i}.npy", rng.integers(0, 4096, (6, 5), dtype=np.uint16))
        paths.append(tmp_path / f"{i}.npy")
    out = ImageLoader().fit_transform(paths)
    assert isinstance(out, np.ndarray) and out.shape == (3, 6, 5)
    np.testing.assert_array_equal(out[1], np.load(paths[1]))


def test_output_is_a_list_when_sizes_differ(blood_cells):
    paths = blood_cells.paths  # 31 images of 363 x 360 and one of 360 x 360
    out = ImageLoader().fit_transform(paths)
    shapes = {im.shape for im in out}
    assert isinstance(out, list) and len(out) == len(paths) and len(shapes) > 1
    for path, image in zip(paths, out, strict=True):
        np.testing.assert_array_equal(image, read_image(path))


def test_intensity_policy_is_applied_and_recorded():
    pytest.importorskip("pydicom")
    paths = [DICOM / "CT_small.dcm"] * 2
    loader = ImageLoader(intensity="lung").fit(paths)
    assert loader.intensity_.to_dict()["preset"] == "lung"
    out = loader.transform(paths)
    np.testing.assert_array_equal(out[0], read_image(paths[0], intensity="lung"))
    assert out.dtype == np.float32 and out.max() <= 1


def test_threads_give_the_same_result(blood_cells):
    paths = blood_cells.paths[:8]
    one = ImageLoader().fit_transform(paths)
    two = ImageLoader(n_jobs=2).fit_transform(paths)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_clone_pickle_and_params_are_verbatim():
    loader = ImageLoader(intensity=("percentile", 1, 99), frame=0, n_jobs=2)
    assert loader.get_params() == {
        "intensity": ("percentile", 1, 99),
        "frame": 0,
        "reader": None,
        "n_jobs": 2,
    }
    cloned = clone(loader)
    assert cloned.get_params() == loader.get_params()
    restored = pickle.loads(pickle.dumps(loader.fit(["a.png"])))
    assert restored.intensity_ == loader.intensity_


def test_stateless_transform_works_without_fit(blood_cells):
    image = ImageLoader().transform(blood_cells.paths[:1])
    np.testing.assert_array_equal(image[0], read_image(blood_cells.paths[0]))


def test_bad_parameters_fail_in_fit_with_suggestions():
    with pytest.raises(ValueError, match="Did you mean 'bone'"):
        ImageLoader(intensity="bones").fit(["a.png"])
    with pytest.raises(ValueError, match="frame must be an integer"):
        ImageLoader(frame="first").fit(["a.png"])
    with pytest.raises(ValueError, match="Did you mean 'nifti'"):
        ImageLoader(reader="nifty").fit(["a.png"])


def test_labels_and_paths_of_different_lengths():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ImageLoader().fit(["a.png", "b.png", "c.png"], [0, 1])


def test_arrays_and_single_paths_are_refused(gray_images):
    with pytest.raises(TypeError, match="numeric array.*CNNFeatures"):
        ImageLoader().fit(gray_images)
    with pytest.raises(TypeError, match="single path"):
        ImageLoader().fit("a.png")


def test_a_bad_file_raises_naming_it_never_drops_a_row(tmp_path, blood_cells):
    bad = write_truncated_jpeg(tmp_path / "cut.jpg")
    paths = [*blood_cells.paths[:2], str(bad)]
    with pytest.raises(ImageReadError, match=r"cut\.jpg"):
        ImageLoader().fit_transform(paths)


def test_blood_cell_fixture_has_eight_classes(blood_cells):
    assert blood_cells.class_names == BLOOD_CELL_CLASSES
