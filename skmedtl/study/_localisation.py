"""The report's localisation table: do the saved models' maps point at the lesion?

With ``annotations`` (a CSV of boxes or a folder of masks, see
:func:`skmedtl.explain.load_annotations`), the study scores the saliency maps
of its saved models (the selected one and, when saved, the cheaper
alternative) on the annotated test images with
:func:`skmedtl.explain.localisation_report`: pointing game, energy share and
top-k% IoU, each with a bootstrap CI, beside the image-centre and mean-map
baselines. The maps explain the report's positive class. A figure shows the
test images where the selected model's map misses the lesion.

The annotations are matched to the images by file path, so the data set's
images must be files (a folder or CSV data set); an array data set is refused.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._save import MODELS_DIR, TARGETS, _pick_cell, saved_cell_key

__all__ = [
    "StudyLocalisation",
    "check_annotations",
    "check_annotated_images",
    "localisation_blocks",
    "study_localisation",
]

logger = logging.getLogger(__name__)

#: Test images shown in the figure of misses (at most).
N_MISSES_SHOWN = 8


@dataclass(frozen=True)
class StudyLocalisation:
    """The localisation of the saved models on the annotated test images.

    Attributes
    ----------
    reports : dict of str to LocalisationReport
        By what the model is (``"selected"``, ``"cheaper alternative"``).
    configs : dict of str to str
        The configuration of each.
    annotations : str
        The annotations' path as given.
    n_test : int
        Test images (annotated or not).
    figure : Path or None
        The figure of the first model's misses (the selected one, when saved).
    """

    reports: dict
    configs: dict
    annotations: str
    n_test: int
    figure: Path | None = None


def check_annotations(annotations, out_dir) -> None:
    """Refuse missing annotations, or annotations inside the output folder.

    Called before any work.
    """
    if annotations is None:
        return
    from ..utils._outputs import check_output

    path = Path(annotations)
    if not path.exists():
        raise FileNotFoundError(
            f"annotations (--annotations): {os.fspath(path)!r} does not exist; give "
            "a CSV of boxes or a folder of masks."
        )
    # the output rule: --out may be neither an input nor inside one; nor may an
    # input be inside --out (a rerun could replace it)
    check_output(
        out_dir, flag="--out", inputs=[("--annotations", path)], overwrite=True
    )
    if _inside(path, Path(out_dir)):
        raise ValueError(
            f"annotations (--annotations) {os.fspath(path)!r} is inside --out "
            f"{os.fspath(out_dir)!r}, which the study writes; keep inputs outside "
            "the study's folder."
        )


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_annotated_images(data) -> list[str]:
    """The test images' paths; an error when the data set's images are arrays."""
    if data.task.per_label:
        raise ValueError(
            "annotations (--annotations): a study with several labels per image "
            "has no single positive class to explain; leave out --annotations."
        )
    test = data.indices("test")
    images = data.take(test)
    paths = []
    for image in images:
        if not isinstance(image, (str, os.PathLike)):
            raise ValueError(
                "annotations (--annotations) are matched to the images by file "
                f"name, but the images of {data.source!r} are arrays; use a folder "
                "or CSV data set of image files, or leave out --annotations."
            )
        paths.append(os.fspath(image))
    return paths


def study_localisation(
    study, out: Path, results, records: dict, n_boot: int
) -> StudyLocalisation | None:
    """Score the saved models' maps on the annotated test images; draw the misses."""
    from ..explain import load_annotations, localisation_report
    from ..persistence import load

    data = study.data_
    paths = check_annotated_images(data)
    annotations = load_annotations(study.annotations, paths)
    if all(a is None for a in annotations):
        logger.warning(
            "annotations: no test image of the study has an annotated region; no "
            "localisation table."
        )
        return None
    rec = results.recommendation
    rows = {"selected": rec["best"]}
    if rec["cheapest"] is not rec["best"]:
        rows["cheaper alternative"] = rec["cheapest"]
    reports, configs = {}, {}
    for name, row in rows.items():
        model_dir = _model_dir(study, out, results, records, name, row)
        if model_dir is None:
            continue  # no saved model of it (save="none")
        model = load(model_dir)
        reports[name] = localisation_report(
            model,
            paths,
            annotations,
            positive_class=model.pos_label_ if len(model.classes_) == 2 else None,
            n_boot=n_boot,
        )
        configs[name] = row["config"]
    if not reports:
        logger.warning(
            "annotations: no saved model to explain (save='none'); no "
            "localisation table."
        )
        return None
    first = next(iter(reports))
    figure = _misses_figure(reports[first], paths, annotations, out / "figures")
    return StudyLocalisation(
        reports=reports,
        configs=configs,
        annotations=os.fspath(study.annotations),
        n_test=len(paths),
        figure=figure,
    )


def _model_dir(study, out: Path, results, records, name: str, row: dict):
    """The saved model of a configuration: its selected copy, else its cell's."""
    target = TARGETS["best" if name == "selected" else "recommended"]
    if results.files.get(target) is not None:
        return results.files[target]
    cell = _pick_cell(row, study.cells_, records)  # the cell write_selected saves
    if cell is None or saved_cell_key(out / MODELS_DIR / cell.key) != cell.key:
        return None
    return out / MODELS_DIR / cell.key


def _misses_figure(report, paths, annotations, folder: Path) -> Path | None:
    """The selected model's misses: image, map and the annotated region."""
    misses = [int(i) for i in report.misses[:N_MISSES_SHOWN]]
    if not misses:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..explain._localisation import peak
    from ..io import read_image

    position = {int(i): k for k, i in enumerate(report.indices)}
    fig, axes = plt.subplots(
        1, len(misses), figsize=(2.2 * len(misses), 2.4), squeeze=False
    )
    for ax, i in zip(axes[0], misses, strict=True):
        image = np.asarray(read_image(paths[i]))
        smap = report.maps[position[i]]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.imshow(smap, cmap="jet", alpha=0.4)
        ax.contour(annotations[i], levels=[0.5], colors="white", linewidths=1)
        r, c = peak(smap)
        ax.plot(c, r, "w+", markersize=10)
        ax.set_title(Path(paths[i]).name, fontsize=7)
        ax.axis("off")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "localisation_misses.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def localisation_blocks(loc: StudyLocalisation | None) -> list:
    """The report's "Does the map point at the lesion?" section."""
    if loc is None:
        return []
    first = next(iter(loc.reports.values()))
    placement = f", {first.placement} cell placement" if first.placement else ""
    blocks = [
        ("h2", "Does the map point at the lesion?"),
        (
            "p",
            f"Saliency maps ({first.method}, layer {first.layer}{placement}) of the "
            "positive "
            f"class on the {len(first.indices)} of {loc.n_test} test images with an "
            f"annotated region (`{loc.annotations}`): pointing game (the map's "
            f"maximum within {first.tolerance:g} px of the region), energy share "
            f"inside the region and the IoU of the top {first.top_k:g}% pixels, "
            f"each with its {first.confidence:.0%} bootstrap CI over images, beside "
            "two baselines on the same images (a map peaking at the image centre; "
            "the mean of the model's maps). A map that does not beat both does "
            "not localise.",
        ),
    ]
    body = []
    for name, report in loc.reports.items():
        for row in report.rows:
            body.append(
                [
                    f"{name}: {loc.configs[name]}",
                    row.maps,
                    str(row.pointing_game),
                    str(row.energy),
                    str(row.topk_iou),
                ]
            )
    blocks.append(
        ("table", ["model", "maps", "pointing game", "energy", "top-k IoU"], body)
    )
    if loc.figure is not None:
        name = next(iter(loc.reports))
        blocks.append(
            (
                "img",
                loc.figure,
                f"Test images where the map of the {name} model "
                f"({loc.configs[name]}) misses the lesion (white contour: the "
                "annotated region; +: the map's maximum).",
            )
        )
    return blocks
