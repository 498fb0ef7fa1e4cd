"""What a study was given and what its cells did, as typed facts.

:class:`StudyFacts` holds the data, partitions, settings and software of the
study (from its report context); :class:`MethodFacts` what the finished cells
recorded they did (epochs, learning rates, tuning schemes, input sizes,
engines). The Methods paragraph (:mod:`._methods`) and the limitations
(:mod:`._limitations`) are written from them and from nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._evaluate import METRICS
from ._task import Task
from ._tuning import OUT_OF_BAG

__all__ = ["MethodFacts", "StudyFacts", "method_facts", "study_facts"]


@dataclass(frozen=True)
class MethodFacts:
    """What the finished cells recorded they did, and what selection found.

    Attributes
    ----------
    training : dict
        ``{approach: (min epochs run, max epochs run, max_epochs, patience,
        learning rates tried, learning rates chosen)}`` of the trained
        approaches.
    heads : tuple of str
        Hybrid heads tuned by inner CV (``"logreg"``, ``"xgboost"``, ...).
    heads_on_validation : tuple of str
        Hybrid heads whose grid value the validation set chose (multi-label
        heads, not yet tuned inside the training images).
    heads_out_of_bag : tuple of str
        Hybrid heads (random forests) tuned by their out-of-bag predictions
        on the training images.
    inner_folds : tuple of int
        Inner CV folds the hybrid heads were tuned with.
    inner_fraction : float or None
        Share of training images the trained approaches held out.
    input_sizes : dict
        ``{input size text: (approaches)}``.
    engines : tuple of str
        Engines of the frozen backbones' embeddings other than PyTorch.
    packages : tuple of str
        Packages the finished cells used beyond the core ones.
    n_comparisons : int
        Other configurations compared with the selected one.
    n_missing : int
        Planned cells without a result.
    optimism : dict or None
        The selection's optimism disclosure (``None``: not estimated).
    head_only : tuple of str
        Trained approaches that may unfreeze backbone groups but, in every
        cell, ended with none trainable at the restored epoch (``gradual``
        whose budget ran out first): their models are trained heads.
    train_threads : tuple of int
        PyTorch CPU thread counts the trained approaches' cells ran on (empty
        when none trained on a CPU, or none recorded it).
    input_sides : dict
        ``{approach: the shorter side of its input, in pixels}`` (recorded
        sizes only).
    """

    training: dict
    heads: tuple
    heads_on_validation: tuple
    inner_folds: tuple
    inner_fraction: float | None
    input_sizes: dict
    engines: tuple
    packages: tuple
    n_comparisons: int
    n_missing: int = 0
    optimism: dict | None = None
    head_only: tuple = ()
    train_threads: tuple = ()
    heads_out_of_bag: tuple = ()
    input_sides: dict = field(default_factory=dict)


def _shorter_side(value) -> int | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(min(value))
    return int(value) if isinstance(value, (int, float)) else None


def _size_text(value) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]} x {value[1]} pixels"
    return "an unrecorded size" if value is None else f"{value} x {value} pixels"


def _merged_training(previous: tuple | None, cell: dict, selection: dict) -> tuple:
    """One trained cell folded into its approach's (min epochs run, max epochs
    run, max_epochs, patience, learning rates tried, learning rates chosen)."""
    epochs = cell.get("epochs")
    lrs = tuple(selection.get("lrs_tried") or ())
    lo, hi, cap, patience, tried, chosen = previous or (
        epochs,
        epochs,
        None,
        None,
        lrs,
        (),
    )
    return (
        min(v for v in (lo, epochs) if v is not None) if epochs else lo,
        max(v for v in (hi, epochs) if v is not None) if epochs else hi,
        selection.get("max_epochs", cap),
        selection.get("patience", patience),
        tried or lrs,
        tuple(dict.fromkeys((*chosen, cell.get("lr")))),
    )


def method_facts(results) -> MethodFacts:
    """The facts of the Methods, from ``results.cells`` (what each cell did)."""
    training: dict = {}
    heads, folds, fractions, engines = [], set(), set(), set()
    on_validation: list = []
    out_of_bag: list = []
    sizes: dict = {}
    frozen_at_best: dict = {}  # approach -> every cell ended with 0 groups
    threads: set = set()
    sides: dict = {}
    for c in results.cells:
        if isinstance(c.get("cpu_threads"), int):
            threads.add(c["cpu_threads"])
        selection = c.get("selection") or {}
        if isinstance(selection, str):  # a row read back from a CSV: not recorded
            selection = {}
        approach = c["approach"]
        sizes.setdefault(_size_text(c.get("input_size")), []).append(approach)
        side = _shorter_side(c.get("input_size"))
        if side is not None:
            sides[approach] = min(side, sides.get(approach, side))
        device = c.get("device") or ""
        if "embeddings by " in device:
            engines.add(device.split("embeddings by ", 1)[1].strip())
        if approach.startswith("hybrid-"):
            scheme = selection.get("scheme")
            by_scheme = {"validation split": on_validation, OUT_OF_BAG: out_of_bag}
            by_scheme.get(scheme, heads).append(approach.removeprefix("hybrid-"))
            if scheme not in by_scheme and selection.get("inner_folds") is not None:
                folds.add(int(selection["inner_folds"]))
            continue
        training[approach] = _merged_training(training.get(approach), c, selection)
        if selection.get("inner_fraction") is not None:
            fractions.add(float(selection["inner_fraction"]))
        if selection.get("groups_max") and selection.get("groups_at_best") is not None:
            frozen_at_best[approach] = frozen_at_best.get(approach, True) and (
                selection["groups_at_best"] == 0
            )
    packages = []
    if "xgboost" in heads or "xgboost" in on_validation:
        packages.append("xgboost")
    packages += sorted(engines)
    return MethodFacts(
        training=training,
        heads=tuple(dict.fromkeys(heads)),
        heads_on_validation=tuple(dict.fromkeys(on_validation)),
        inner_folds=tuple(sorted(folds)),
        inner_fraction=max(fractions) if fractions else None,
        input_sizes={k: tuple(dict.fromkeys(v)) for k, v in sizes.items()},
        engines=tuple(sorted(engines)),
        packages=tuple(packages),
        n_comparisons=len(results.comparisons or []),
        n_missing=results.n_cells - len(results.cells),
        optimism=(results.recommendation or {}).get("optimism"),
        head_only=tuple(a for a, frozen in frozen_at_best.items() if frozen),
        train_threads=tuple(sorted(threads)),
        heads_out_of_bag=tuple(dict.fromkeys(out_of_bag)),
        input_sides=sides,
    )


@dataclass(frozen=True)
class StudyFacts:
    """What the study was given, from its report context: the Methods' inputs.

    Attributes
    ----------
    source : str
        Where the images come from.
    n_images : int
    classes : tuple of str
        Class names (multi-label: label names).
    per_label : bool
        Multi-label: each label is a binary problem.
    ordinal : bool
        Ordinal task (kappa and MAE are reported).
    n_train, n_validation, n_test : int
        Images in the training, validation and test partitions.
    validation : str
        Where the validation partition comes from.
    test_protocol : str
        Where the test partition comes from.
    groups : int or None
        Number of patients (groups); ``None`` without patient ids.
    metric : str
        Selection metric (a key of ``METRICS``).
    n_seeds : int
    rule : str
        Operating-point rule (``"youden"``, ``"sensitivity"``, ``"specificity"``).
    target : float or None
        The rule's target sensitivity or specificity.
    calibrate : str
        Recalibration method (``"none"``: none).
    n_bootstraps : int or None
    backbones, approaches : tuple of str
    weights : str or None
    head_grid : str or None
    device : str or None
    packages : dict
        ``{package: version}`` recorded in the manifest.
    external : tuple of str
        Paths of the external test sets scored.
    outer_folds : int or None
        Outer folds of the nested cross-validation (``None``: not run).
    outer_grouped : bool
        Whether the outer folds keep each patient in one fold.
    image_size : tuple of int or None
        The images' median ``(height, width)`` (``None``: not recorded).
    version : str or None
        skmedtl's version (when the manifest has no packages).
    """

    source: str
    n_images: int
    classes: tuple
    per_label: bool
    ordinal: bool
    n_train: int
    n_validation: int
    n_test: int
    validation: str
    test_protocol: str
    groups: int | None
    metric: str
    n_seeds: int
    rule: str
    target: float | None
    calibrate: str
    n_bootstraps: int | None
    backbones: tuple
    approaches: tuple
    weights: str | None
    head_grid: str | None
    device: str | None
    packages: dict
    version: str | None
    external: tuple = ()
    outer_folds: int | None = None
    outer_grouped: bool = False
    image_size: tuple | None = None

    @property
    def metric_name(self) -> str:
        """The selection metric's name (``"AUC"``)."""
        return METRICS[self.metric]


def study_facts(context: dict) -> StudyFacts:
    """The :class:`StudyFacts` of a report context."""
    ds, s = context["dataset"], context["settings"]
    counts = ds["counts"]  # multi-label: positives per label, not images
    n = ds.get("n_per_split") or {
        part: sum(counts[part].values()) for part in ("train", "val", "test")
    }
    n_val = context.get("n_validation", n["val"])
    rule, target = context.get("operating_point", ("youden", None))
    return StudyFacts(
        source=ds["source"],
        n_images=ds["n_images"],
        classes=tuple(ds["classes"]),
        per_label=Task.of_mapping(ds).per_label,
        ordinal=context.get("task") == "ordinal",
        n_train=n["train"] + n["val"] - n_val,
        n_validation=n_val,
        n_test=n["test"],
        validation=context["validation"],
        test_protocol=ds["test_protocol"],
        groups=ds.get("groups"),
        metric=context["metric"],
        n_seeds=len(s.get("seeds") or []),
        rule=rule,
        target=target,
        calibrate=context.get("calibrate", "none"),
        n_bootstraps=s.get("n_bootstraps"),
        backbones=tuple(s.get("backbones", [])),
        approaches=tuple(s.get("approaches", [])),
        weights=s.get("weights"),
        head_grid=s.get("head_grid"),
        device=s.get("device"),
        packages=dict((context.get("manifest") or {}).get("packages") or {}),
        version=context.get("version"),
        external=tuple(e["path"] for e in context.get("external") or []),
        outer_folds=s.get("outer_folds"),
        outer_grouped=bool(s.get("outer_grouped")),
        image_size=tuple((ds.get("image_size") or {}).get("median") or ()) or None,
    )
