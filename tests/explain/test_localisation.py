"""Localisation metrics and annotation loading, against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.explain import (
    energy_fraction,
    load_annotations,
    localisation_scores,
    pointing_hit,
    topk_iou,
)
from skmedtl.explain._localisation import centre_map, mean_maps


def _box(shape, r0, r1, c0, c1):
    mask = np.zeros(shape, dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def test_pointing_game_tolerance_is_euclidean_distance_to_the_region():
    mask = _box((100, 100), 40, 50, 40, 50)  # rows/cols 40..49
    m = np.zeros((100, 100))
    m[49 + 15, 45] = 1  # 15 px below the last row: a hit
    assert pointing_hit(m, mask)
    m[:] = 0
    m[49 + 16, 45] = 1  # 16 px: a miss
    assert not pointing_hit(m, mask)
    m[:] = 0
    m[49 + 11, 49 + 11] = 1  # diagonal: sqrt(11^2 + 11^2) = 15.56 > 15
    assert not pointing_hit(m, mask)
    assert pointing_hit(m, mask, tolerance=16)
    m[:] = 0
    m[49 + 10, 49 + 11] = 1  # sqrt(100 + 121) = 14.87
    assert pointing_hit(m, mask)


def test_pointing_game_plateau_uses_its_centroid():
    mask = _box((60, 60), 0, 5, 0, 5)
    m = np.zeros((60, 60))
    m[0, 0] = m[0, 58] = 1  # centroid (0, 29): 25 px from column 4
    assert not pointing_hit(m, mask)


def test_energy_is_positive_mass_inside_over_total():
    m = np.zeros((4, 4))
    m[0, 0], m[0, 1], m[3, 3], m[2, 2] = 2.0, 1.0, 1.0, -5.0
    mask = _box((4, 4), 0, 1, 0, 2)
    assert energy_fraction(m, mask) == pytest.approx(3 / 4)
    assert energy_fraction(np.zeros((4, 4)), mask) == 0.0


def test_topk_iou_by_hand():
    m = np.arange(100, dtype=float).reshape(10, 10)  # top 10%: the last row
    mask = _box((10, 10), 8, 10, 0, 5)  # rows 8-9, cols 0-4: 10 px
    # top = row 9 (10 px); intersection: row 9, cols 0-4 = 5; union 10 + 10 - 5
    assert topk_iou(m, mask, top_k=10) == pytest.approx(5 / 15)
    assert topk_iou(m, mask, top_k=20) == pytest.approx(10 / 20)
    with pytest.raises(ValueError, match="top_k"):
        topk_iou(m, mask, top_k=0)


def test_topk_iou_keeps_ties():
    m = np.zeros((10, 10))
    m[0:2, :] = 1.0  # a plateau of 20 px at the top: all tied for the top 10%
    mask = _box((10, 10), 0, 1, 0, 10)  # row 0: 10 px, all inside the plateau
    # top = rows 0-1 (20 px, ties kept); intersection 10; union 20
    assert topk_iou(m, mask, top_k=10) == pytest.approx(10 / 20)
    assert topk_iou(m, _box((10, 10), 0, 2, 0, 10), top_k=10) == pytest.approx(1.0)


def test_bootstrap_interval_is_the_exact_resampling_quantile():
    """14 hits out of 20: a resample's hit rate is Binomial(20, 0.7) / 20.

    Its 2.5% and 97.5% quantiles (scipy) are 10/20 and 18/20, each well inside
    a step of the distribution function (F(9) = .017, F(10) = .048; F(17) = .965,
    F(18) = .992), so 20,000 resamples give them exactly.
    """
    from scipy.stats import binom

    shape = (40, 40)
    mask = _box(shape, 0, 5, 0, 5)
    hit, miss = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    hit[2, 2] = 1
    miss[39, 39] = 1
    maps = [hit] * 14 + [miss] * 6
    report = localisation_scores(maps, [mask] * 20, n_boot=20_000, random_state=3)
    pointing = report.rows[0].pointing_game
    exact = binom(20, 0.7)
    assert pointing.estimate == pytest.approx(0.7)
    assert pointing.low == pytest.approx(exact.ppf(0.025) / 20)
    assert pointing.high == pytest.approx(exact.ppf(0.975) / 20)
    assert (pointing.low, pointing.high) == pytest.approx((0.5, 0.9))
    # No resampling: the interval is the value itself.
    flat = localisation_scores(maps, [mask] * 20, n_boot=0).rows[0].pointing_game
    assert (flat.low, flat.high) == (0.7, 0.7)


def test_report_rows_are_means_of_hand_computed_scores():
    """Energy and top-k IoU per image by explicit pixel loops, then averaged."""
    rng = np.random.default_rng(0)
    shape = (12, 16)
    maps = [rng.uniform(-0.2, 1, shape).astype(np.float32) for _ in range(3)]
    masks = [
        _box(shape, 2, 6, 3, 9),
        _box(shape, 0, 12, 0, 4),
        _box(shape, 8, 12, 10, 16),
    ]

    def energy_by_hand(m, r):
        inside = total = 0.0
        for i in range(shape[0]):
            for j in range(shape[1]):
                v = max(float(m[i, j]), 0.0)
                total += v
                inside += v if r[i, j] else 0.0
        return inside / total

    def iou_by_hand(m, r, k):
        ranked = sorted(m.ravel().tolist(), reverse=True)
        cut = ranked[int(round(m.size * k / 100)) - 1]  # no ties in uniform noise
        top = [[m[i, j] >= cut for j in range(shape[1])] for i in range(shape[0])]
        both = sum(
            top[i][j] and r[i, j] for i in range(shape[0]) for j in range(shape[1])
        )
        either = sum(
            top[i][j] or r[i, j] for i in range(shape[0]) for j in range(shape[1])
        )
        return both / either

    report = localisation_scores(maps, masks, top_k=25, n_boot=0)
    energies = [energy_by_hand(m, r) for m, r in zip(maps, masks, strict=True)]
    ious = [iou_by_hand(m, r, 25) for m, r in zip(maps, masks, strict=True)]
    np.testing.assert_allclose(report.energy, energies, rtol=1e-6)
    np.testing.assert_allclose(report.iou, ious)
    model, centre, _ = report.rows
    assert model.energy.estimate == pytest.approx(np.mean(energies))
    assert model.topk_iou.estimate == pytest.approx(np.mean(ious))
    # The centre baseline: the cone 1 - d / sqrt(2), d the distance from the
    # centre in half-sizes, evaluated at each pixel's centre.
    cone = np.array(
        [
            [
                1
                - np.hypot(
                    (i + 0.5 - shape[0] / 2) / (shape[0] / 2),
                    (j + 0.5 - shape[1] / 2) / (shape[1] / 2),
                )
                / np.sqrt(2)
                for j in range(shape[1])
            ]
            for i in range(shape[0])
        ]
    )
    expected = np.mean([energy_by_hand(cone, r) for r in masks])
    assert centre.energy.estimate == pytest.approx(expected, rel=1e-6)


def test_bad_shapes_and_empty_masks_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        pointing_hit(np.zeros((4, 4)), np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="empty"):
        energy_fraction(np.zeros((4, 4)), np.zeros((4, 4), bool))


def test_scores_with_bootstrap_and_baselines_by_hand():
    shape = (64, 64)
    masks = [
        _box(shape, 2, 10, 2, 10),
        _box(shape, 50, 60, 50, 60),
        _box(shape, 28, 36, 28, 36),
        None,
    ]
    maps = []
    for r, c in [(5, 5), (55, 55), (5, 60)]:  # hit, hit, miss
        m = np.zeros(shape, np.float32)
        m[r, c] = 1
        maps.append(m)
    maps.append(np.zeros(shape, np.float32))  # no region: not scored
    report = localisation_scores(maps, masks, n_boot=2000, random_state=1)
    assert report.n_skipped == 1
    np.testing.assert_array_equal(report.hits, [True, True, False])
    np.testing.assert_array_equal(report.misses, [2])
    model, centre, mean_map = report.rows
    assert model.pointing_game.estimate == pytest.approx(2 / 3)
    # Bootstrap of (1, 1, 0): a resample is all misses with probability
    # (1/3)^3 = 3.7% > 2.5%, all hits with (2/3)^3 = 29.6%: the interval is 0 .. 1.
    assert model.pointing_game.low == pytest.approx(0.0)
    assert model.pointing_game.high == pytest.approx(1.0)
    assert model.energy.estimate == pytest.approx(2 / 3)
    # Centre cone: its peak (the 2x2 plateau at 31.5, 31.5) hits only the
    # central box.
    assert centre.pointing_game.estimate == pytest.approx(1 / 3)
    # Mean map: three single-pixel peaks; its plateau centroid is their mean.
    mean = np.mean([(5, 5), (55, 55), (5, 60)], axis=0)  # (21.67, 40)
    expected = [
        np.hypot(*(np.round(mean) - np.clip(np.round(mean), lo, hi))) <= 15
        for lo, hi in [((2, 2), (9, 9)), ((50, 50), (59, 59)), ((28, 28), (35, 35))]
    ]
    assert mean_map.pointing_game.estimate == pytest.approx(np.mean(expected))
    frame = report.to_frame()
    assert list(frame.index) == ["model", "image centre", "mean map"]


def test_baseline_maps():
    c = centre_map((4, 6))
    assert c.shape == (4, 6)
    assert np.unravel_index(np.argmax(c), c.shape) in [(1, 2), (1, 3), (2, 2), (2, 3)]
    a, b = np.zeros((4, 4)), np.ones((8, 8))
    first, second = mean_maps([a, b])
    np.testing.assert_allclose(first, 0.5)
    assert second.shape == (8, 8)
    np.testing.assert_allclose(second, 0.5)


def test_load_boxes_in_pixels_and_yolo(tmp_path):
    paths = [
        str(tmp_path / "a.png"),
        str(tmp_path / "sub" / "b.png"),
        str(tmp_path / "c.png"),
    ]
    shapes = [(20, 40), (10, 10), (5, 5)]
    (tmp_path / "px.csv").write_text(
        "image,x_min,y_min,x_max,y_max\na.png,4,2,10,6\na.png,30,15,35,20\n"
        f"{paths[1]},0,0,3,2\n"
    )
    masks = load_annotations(tmp_path / "px.csv", paths, shapes)
    expected = np.zeros((20, 40), bool)
    expected[2:6, 4:10] = True
    expected[15:20, 30:35] = True
    np.testing.assert_array_equal(masks[0], expected)
    np.testing.assert_array_equal(masks[1], _box((10, 10), 0, 2, 0, 3))
    assert masks[2] is None
    # YOLO: centre (0.25, 0.5), size (0.5, 0.2) of a 20 x 40 image.
    (tmp_path / "yolo.csv").write_text(
        "image,x_center,y_center,width,height\na.png,0.25,0.5,0.5,0.2\n"
    )
    masks = load_annotations(tmp_path / "yolo.csv", paths, shapes)
    np.testing.assert_array_equal(masks[0], _box((20, 40), 8, 12, 0, 20))


def test_bad_annotation_files_name_the_problem(tmp_path):
    paths = [str(tmp_path / "a.png")]
    (tmp_path / "cols.csv").write_text("image,x,y\na.png,1,2\n")
    with pytest.raises(ValueError, match="x_min"):
        load_annotations(tmp_path / "cols.csv", paths, [(10, 10)])
    (tmp_path / "other.csv").write_text(
        "image,x_min,y_min,x_max,y_max\nz.png,0,0,2,2\n"
    )
    with pytest.raises(ValueError, match="z.png"):
        load_annotations(tmp_path / "other.csv", paths, [(10, 10)])
    (tmp_path / "yolo.csv").write_text(
        "image,x_center,y_center,width,height\na.png,2,0.5,0.1,0.1\n"
    )
    with pytest.raises(ValueError, match=r"outside\s+\[0, 1\]|outside \[0, 1\]"):
        load_annotations(tmp_path / "yolo.csv", paths, [(10, 10)])
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_annotations(tmp_path / "missing.csv", paths, [(10, 10)])


def test_masks_beside_the_images(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    masks_dir = tmp_path / "masks"
    images.mkdir()
    masks_dir.mkdir()
    for name in ("a", "b"):
        Image.fromarray(np.zeros((8, 6), np.uint8)).save(images / f"{name}.png")
    mask = np.zeros((8, 6), np.uint8)
    mask[1:3, 2:5] = 255
    Image.fromarray(mask).save(masks_dir / "a_mask.png")
    loaded = load_annotations(masks_dir, [images / "a.png", images / "b.png"])
    np.testing.assert_array_equal(loaded[0], mask > 0)
    assert loaded[1] is None
