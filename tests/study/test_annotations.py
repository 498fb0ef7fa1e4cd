"""``annotations``: the study's localisation table of its saved models' maps."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from skmedtl.explain import load_annotations, localisation_report
from skmedtl.persistence import load
from skmedtl.study import TransferStudy, load_study_dataset
from skmedtl.study._localisation import localisation_blocks, study_localisation
from skmedtl.study._save import _pick_cell
from tests._helpers import tiny_study

from .conftest import make_images

#: Images per split (half of each class).
PER_SPLIT = {"train": 24, "val": 8, "test": 12}
#: Each pixel of :func:`make_images` becomes SCALE x SCALE (64-px images, so that
#: the 15-px pointing tolerance does not cover the whole image).
SCALE = 4
#: The bright/dark square of :func:`make_images`, as a pixel box.
BOX = {"x_min": 4 * SCALE, "y_min": 4 * SCALE, "x_max": 12 * SCALE, "y_max": 12 * SCALE}


def _png_dataset(root: Path) -> Path:
    """PNG files with a CSV list (path, label, split); the lesion is the square."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for split, n in PER_SPLIT.items():
        labels = np.repeat([0, 1], n // 2)
        for i, (image, label) in enumerate(
            zip(make_images(rng, labels), labels, strict=True)
        ):
            image = np.kron(image, np.ones((SCALE, SCALE), np.uint8))
            path = root / "png" / split / f"{split}{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
            rows.append(
                {
                    "path": f"png/{split}/{split}{i}.png",
                    "label": ["a", "b"][label],
                    "split": split,
                }
            )
    dataset = root / "data.csv"
    with open(dataset, "w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return dataset


#: A box in the top-right corner, away from the square: maps that look at the
#: square miss it (so that the figure of misses is drawn).
CORNER = {"x_min": 60 * SCALE // 4, "y_min": 0, "x_max": 16 * SCALE, "y_max": SCALE}


def _boxes(root: Path, names, wrong=()) -> Path:
    path = root / "boxes.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, ["image", *BOX])
        writer.writeheader()
        for name in names:
            writer.writerow({"image": name, **(CORNER if name in wrong else BOX)})
    return path


def _study(dataset, out, **kwargs) -> TransferStudy:
    options = dict(approaches=["hybrid-logreg"], pos_label="b")
    return tiny_study(dataset, out, **{**options, **kwargs})


@pytest.mark.slow
def test_report_holds_the_localisation_of_the_saved_model(tmp_path):
    dataset = _png_dataset(tmp_path)
    # every test image but the first annotated: only annotated ones are scored
    names = [f"test{i}.png" for i in range(1, PER_SPLIT["test"])]
    boxes = _boxes(tmp_path, names, wrong=names[::2])
    out = tmp_path / "study"
    study = _study(
        dataset, out, annotations=boxes, approaches=["hybrid-logreg", "fine_tune"]
    )
    results = study.run()

    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Does the map point at the lesion?" in text
    assert "measured cell placement" in text
    section = text.split("## Does the map point at the lesion?")[1]
    section = section.split("\n## ")[0]

    data = load_study_dataset(dataset)
    paths = [str(p) for p in data.take(data.indices("test"))]
    model = load(out / "model")
    expected = localisation_report(
        model,
        paths,
        load_annotations(boxes, paths),
        positive_class="b",
        n_boot=50,
    )
    assert len(expected.indices) == PER_SPLIT["test"] - 1
    assert f"on the {len(expected.indices)} of {PER_SPLIT['test']} test" in section
    config = results.recommendation["best"]["config"]
    for row in expected.rows:
        line = next(
            line
            for line in section.splitlines()
            if line.startswith(f"| selected: {config} | {row.maps} |")
        )
        for estimate in (row.pointing_game, row.energy, row.topk_iou):
            assert str(estimate) in line
    assert len(expected.misses) > 0  # the corner boxes
    assert (out / "figures" / "localisation_misses.png").is_file()
    assert "(figures/localisation_misses.png)" in section

    # the cheaper alternative, when there is one: scored from its cell's saved
    # model (not saved as out/model-recommended with save="best")
    rec = dict(results.recommendation)
    rec["cheapest"] = next(
        r for r in results.table if r["config"] != rec["best"]["config"]
    )
    records = study._store.latest("cell")
    loc = study_localisation(
        study, out, replace(results, recommendation=rec), records, 50
    )
    assert list(loc.configs.values()) == [config, rec["cheapest"]["config"]]
    cell = _pick_cell(rec["cheapest"], study.cells_, records)
    cheaper = localisation_report(
        load(out / "models" / cell.key),
        paths,
        load_annotations(boxes, paths),
        positive_class="b",
        n_boot=50,
    )
    assert loc.reports["cheaper alternative"].rows == cheaper.rows
    assert loc.reports["selected"].rows == expected.rows
    table = next(b for b in localisation_blocks(loc) if b[0] == "table")
    assert [r[0] for r in table[2]] == [f"selected: {config}"] * 3 + [
        f"cheaper alternative: {rec['cheapest']['config']}"
    ] * 3


def test_missing_annotations_are_refused_before_any_work(tmp_path):
    dataset = _png_dataset(tmp_path)
    out = tmp_path / "study"
    study = _study(dataset, out, annotations=tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="annotations.*nope.csv"):
        study.run()
    assert not (out / "results.jsonl").exists()


def test_annotations_inside_out_are_refused(tmp_path):
    dataset = _png_dataset(tmp_path)
    out = tmp_path / "study"
    out.mkdir()
    boxes = _boxes(out, ["test1.png"])
    with pytest.raises(ValueError, match="--annotations.*inside --out"):
        _study(dataset, out, annotations=boxes).run()


def test_annotations_of_an_array_data_set_are_refused(tmp_path, tiny_npz):
    boxes = _boxes(tmp_path, ["test1.png"])
    with pytest.raises(ValueError, match=r"--annotations.*arrays"):
        _study(tiny_npz, tmp_path / "study", annotations=boxes, pos_label=1).run()


def test_cli_names_the_flag(tmp_path, run_cli, tiny_npz):
    from .conftest import TINY

    boxes = _boxes(tmp_path, ["test1.png"])
    code, _, err = run_cli(
        [
            "study",
            "--dataset",
            tiny_npz,
            "--out",
            tmp_path / "o",
            *TINY,
            "--annotations",
            boxes,
        ]
    )
    assert code != 0 and "--annotations" in err and "Traceback" not in err
