"""TransferStudy: the grid of backbones x approaches, resumable, with its report."""

from __future__ import annotations

import logging
import numbers
import os
from pathlib import Path

from .._constants import ON_ERROR, SELECTION_METRICS
from ..metrics._calibration import CALIBRATION_METHODS
from ..utils._files import atomic_write_text
from ..utils._validation import (
    Check,
    Interval,
    StrOptions,
)
from ._choices import COSTS
from ._cost import torch_threads
from ._curves import parse_train_sizes
from ._manifest import MANIFEST_NAME, manifest, report_context
from ._measure import StudyTimes
from ._nested import parse_cv
from ._out_dir import check_out_dir, study_lock
from ._outputs import write_results
from ._plan import check_device, check_lrs
from ._prepare import preflight, prepare
from ._profiles import Profile
from ._records import to_json
from ._results import StudyResults
from ._run import check_executor
from ._runner import StudyRun, cell_resources

__all__ = ["TransferStudy"]

logger = logging.getLogger(__name__)

TASKS = ("classification", "ordinal")


class TransferStudy:
    """Compare transfer-learning approaches and backbones on one data set.

    The study the review (Kim et al., BMC Medical Imaging 2022) recommends and
    few papers run: every backbone x approach of a grid, evaluated on the same
    held-out test set, each with its cost. Tuning happens inside the training
    images: the heads' hyperparameters by inner stratified (patient-grouped)
    cross-validation, learning rates and early stopping on a share of the
    training images held out. One validation set shared by all cells (the data
    set's validation split, else one stratified, patient-level split of the
    training images) is predicted once per model; it selects the configuration
    (by its validation score; with seeds, the mean) and fits recalibration and
    the operating point. The report discloses the selected score's optimism
    (bootstrap bias-corrected, Tsamardinos et al. 2018). Each model is fitted on
    the training images and predicts the test set once; no test result feeds a
    choice. The report compares the selected configuration with every other one
    (paired bootstrap and DeLong, Holm-corrected), gives calibration and the
    operating point, and ``predictions.csv`` keeps every test prediction.

    Each finished cell is appended to ``out_dir/results.jsonl`` at once, so a
    study that stops (an error, Ctrl-C, a killed process) resumes where it
    stopped: running it again skips the finished cells. Frozen-backbone
    embeddings go through an :class:`~skmedtl.cache.EmbeddingCache`, so they
    are computed once per backbone, ever.

    Parameters
    ----------
    dataset : str, path-like or StudyDataset
        A bundled name (``"breastmnist"``), a MedMNIST ``.npz``, a ``.csv`` with
        columns ``path``, ``label`` (optional ``group``, ``split``), or a
        folder with one subfolder per class (optionally inside ``train/``,
        ``val/``, ``test/``). See :func:`load_study_dataset`.
    out_dir : str or path-like
        Where the log, the tables, the report and the figures go: a new or
        empty folder, or one of an earlier study (resumed); never the data
        set's folder nor inside it.
    overwrite : bool, default=False
        Write into an existing ``out_dir`` that holds files but no study (no
        ``study.json``, ``results.jsonl`` nor ``.study.lock``): its files of
        the same names are replaced. Without it, :meth:`run` and :meth:`report`
        refuse such a folder (a ``FileExistsError``), as ``skmedtl study``
        does without ``--overwrite``.
    profile : {"quick", "standard", "thorough"} or Profile, default="quick"
        Default grid and budgets: a name from :data:`PROFILES`, or your own
        :class:`Profile` (e.g. ``get_profile("quick").replace(max_epochs=20,
        name="longer")``); every parameter below that is not ``None``
        overrides it.
    backbones : list of str, optional
        Registered backbone names (:func:`skmedtl.list_backbones`).
    approaches : list of str, optional
        From :data:`APPROACHES`; ``"fine_tune:K"`` trains the top ``K`` block
        groups.
    seeds : int or list of int, optional
        Number of repetitions (seeds ``random_state``, ``random_state + 1``,
        ...) or the seeds themselves.
    weights : {"imagenet"}, path or None, default="imagenet"
        Pretrained weights of every backbone (``None``: random, for tests).
        ``random_init`` always starts from random weights.
    metric : {"auc", "balanced_accuracy", "accuracy"}, default="auc"
        What hyperparameter searches and the selection on validation maximise,
        and what the paired comparisons compare.
    cost : {"time", "inference", "params", "memory"}, default="time"
        What "cheapest" means in the recommendation: compute time (extraction
        + training), inference time per image, trainable parameters, or peak
        memory.
    margin : float, default=0.02
        Non-inferiority margin of the cheaper alternative: a cheaper
        configuration is proposed only when the lower bound of the 95% CI of
        its paired difference to the selected one on validation is above
        ``-margin`` (in units of ``metric``).
    input_size, train_input_size : int or "native", optional
        Input size of every approach (like for like), and another one for those
        that train the backbone, flagged in the report (``"native"``: the
        weights' own size).
    max_epochs : int, optional
        Epochs of the approaches that train the backbone.
    lrs : list of float, optional
        Learning rates tried (the one with the lowest loss on the share of the
        training images held out is kept).
    fine_tune_blocks : int, optional
        ``K`` of a bare ``"fine_tune"``.
    pos_label : label, optional
        Positive class of a binary problem (sensitivity is measured on it);
        a label or a class name. Default: the data set's (``"malignant"`` for
        BreastMNIST), else the second sorted class.
    groups : str, optional
        Folder data sets: regular expression that finds the patient id in each
        path; no patient is then on both sides of any split.
    groups_csv : path, optional
        Folder data sets: a CSV with columns ``path`` and ``group``.
    test_size : float, default=0.2
        Hold-out share when the data set has no test split.
    cache_path : path, optional
        The embedding cache; default ``out_dir/embeddings.h5``.
    device : str, default="auto"
    batch_size : int, default=32
    n_bootstraps : int, optional
        Bootstrap resamples for the 95% confidence intervals.
    n_threads : int, "auto" or None, default=None
        PyTorch CPU threads during the run (restored afterwards). ``None``:
        PyTorch's default within the cores this process may use (its affinity
        and container quota), the same on every run on this machine. The
        trained approaches' results depend on the thread count (PyTorch splits
        its sums by thread), so the count is recorded with each cell and named
        in the Methods paragraph. ``"auto"``: only the cores other processes
        leave idle (by the 1-minute load average, at least one), for a shared
        machine: training with 2 threads while another process computes was
        measured 5-20x slower than with 1; but a rerun under another load may
        then train other models.
    n_jobs : int, optional
        Parallel jobs of the random forest and XGBoost heads. ``None`` means 1:
        XGBoost's default (every core) runs up to 50x slower on a busy CPU in a
        process where PyTorch has run, as their OpenMP thread pools compete.
    calibrate : {"none", "temperature", "sigmoid", "isotonic"}, default="none"
        Recalibrate every cell's probabilities on the validation set
        (temperature scaling, Platt's sigmoid or isotonic regression, see
        :class:`skmedtl.metrics.ProbabilityCalibrator`); the report gives
        Brier score and ECE before and after. Discrimination metrics (AUC,
        ACC) are those of the uncalibrated model. Multi-label data: one
        calibrator per label.
    target_sensitivity, target_specificity : float, optional
        The operating point, chosen on validation: the most specific
        threshold reaching this sensitivity, or the most sensitive reaching
        this specificity (binary problems; at most one of the two). Default:
        Youden's J. The report gives test sensitivity and specificity at it
        beside those of the most probable class. Three or more classes, or
        multi-label data: refused (a ``ValueError``), as there is no one
        positive class.
    task : {"classification", "ordinal"}, default="classification"
        ``"ordinal"``: the classes are ordered grades (``grades``, else numeric
        labels in increasing order; text labels need ``grades``); the report
        adds quadratic weighted kappa and the mean absolute error in grades,
        and states the order.
    grades : list or str, optional
        Ordinal studies: every class once, lowest grade first (labels or
        class names; ``"low,medium,high"``).
    on_error : {"raise", "skip"}, default="raise"
        A cell that fails: stop the study (finished cells stay in the log), or
        record the failure, go on, and report it.
    save : str or list of str, default="best"
        Which selected models to save, safely (:func:`skmedtl.save`, no
        pickle): ``"best"`` (the configuration selected on validation, to
        ``out_dir/model/``), ``"recommended"`` (the cheaper recommendation, to
        ``out_dir/model-recommended/``), ``"best,recommended"`` or ``"none"``.
        Each is the very model the study scored on the test set (no refit),
        as a :class:`~skmedtl.study.StudyModel` with its preprocessing, class
        names, positive class, recalibration and operating point, with a model
        card (``model_card.json`` / ``model_card.md``) in the folder. Every
        finished cell's model is kept in ``out_dir/models/<cell key>/`` so
        that a resumed run whose selection changes needs no refit.
        Multi-label data sets save the same :class:`~skmedtl.study.StudyModel`
        with the per-label thresholds chosen on validation (and per-label
        recalibration).
    annotations : str or path-like, optional
        Lesion annotations of the test images (a CSV of boxes or a folder of
        masks; see :func:`skmedtl.explain.load_annotations`), matched by file
        name: the report adds a localisation table of the saved models' maps
        (:func:`skmedtl.explain.localisation_report`) and a figure of the
        misses. The images must be files; outside ``out_dir``.
    train_sizes : list of int and "all", or str, optional
        Learning curves: every cell also runs on repeated, nested, stratified
        subsamples of the training partition of these sizes (``"25,50,all"``);
        validation and test sets fixed, frozen embeddings reused. The report
        adds the curves, costs per size and the crossover of fine-tuning with
        the best frozen hybrid; selection stays the full-size study's (see
        :ref:`the user guide <external>`).
    train_repeats : int, default=3
        Subsamples drawn of each size.
    cv : int, "auto" or None, default="auto"
        Nested cross-validation (data sets without an official test split):
        the whole selection protocol runs in ``cv`` stratified, patient-grouped
        outer folds, and the report adds each configuration's mean and SD over
        folds, how often each was selected, and the estimate of the selection
        procedure (mean of the selected configuration's outer test scores).
        The saved model and the main tables stay the single-split study's.
        ``"auto"``: 5 folds below 1000 images without an official split;
        ``None`` or ``0``: off. Refused on an official split and above the
        smallest class's number of patients.
    external : path or list of paths, optional
        External test sets (folder or CSV with the same classes), each scored
        once by the selected, saved model: metrics, drop from the internal
        test set, calibration, operating point and a shift diagnostic.
    executor : CellExecutor, optional
        Runs the cells (see :mod:`skmedtl.study._run`): an object whose
        ``run(tasks)`` yields each :class:`~skmedtl.study.CellTask` with its
        result or exception. Default: one after the other in this process
        (:class:`~skmedtl.study.LocalExecutor`). A cell's result depends only
        on its settings, seed and the data, not on where it ran.
    random_state : int, default=0
        Seeds the hold-out splits (test when the data set has none; the one
        validation split when it has none) and the first seed.
    verbose : int, default=1
        0 is silent; 1 shows progress bars.

    See Also
    --------
    skmedtl.finetune.FineTuneClassifier, skmedtl.make_hybrid

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.study import StudyDataset, TransferStudy
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (40, 16, 16), dtype=np.uint8)
    >>> y = np.repeat([0, 1], 20)
    >>> X[y == 1, 4:12, 4:12] = 255
    >>> study = TransferStudy(StudyDataset.from_arrays(X, y),
    ...                       getfixture("tmp_path"), backbones=["lenet5"],
    ...                       approaches=["hybrid-logreg"], weights=None,
    ...                       n_bootstraps=50, verbose=0)
    >>> results = study.run()
    >>> results.table[0]["config"], results.n_run
    ('lenet5 / hybrid-logreg', 1)
    >>> study.run().n_skipped
    1
    """

    _parameter_constraints: dict = {
        "out_dir": ["path"],
        "profile": [str, Profile],
        "backbones": [None, str, list, tuple],
        "approaches": [None, str, list, tuple],
        "weights": [None, "path"],
        "metric": [StrOptions(SELECTION_METRICS)],
        "cost": [StrOptions(tuple(COSTS))],
        "margin": [Interval(numbers.Real, 0, 1, closed="left")],
        "input_size": [Interval(numbers.Integral, 8), StrOptions(("native",)), None],
        "train_input_size": [
            Interval(numbers.Integral, 8),
            StrOptions(("native",)),
            None,
        ],
        "max_epochs": [Interval(numbers.Integral, 1), None],
        "lrs": [
            Interval(numbers.Real, 0, None, closed="neither"),
            Check(check_lrs, "positive numbers"),
            None,
        ],
        "fine_tune_blocks": [Interval(numbers.Integral, 1), None],
        "test_size": [
            Interval(numbers.Real, 0, 1, closed="neither"),
            Interval(numbers.Integral, 1),
        ],
        "cache_path": [None, "path"],
        "device": [Check(check_device, "a torch device")],
        "batch_size": [Interval(numbers.Integral, 1)],
        "n_bootstraps": [Interval(numbers.Integral, 10), None],
        "n_threads": [Interval(numbers.Integral, 1), StrOptions(("auto",)), None],
        "n_jobs": [  # joblib: 0 has no meaning
            Interval(numbers.Integral, 1),
            Interval(numbers.Integral, None, -1),
            None,
        ],
        "calibrate": [StrOptions(CALIBRATION_METHODS)],
        "target_sensitivity": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "target_specificity": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "task": [StrOptions(TASKS)],
        "grades": [None, str, list, tuple],
        "on_error": [StrOptions(ON_ERROR)],
        "overwrite": ["boolean"],
        "save": [None, str, list, tuple],
        "annotations": [None, "path"],
        "random_state": [Interval(numbers.Integral, 0)],
        "verbose": [Interval(numbers.Integral)],
        "executor": [None, Check(check_executor, "an object with a run(tasks) method")],
        "train_sizes": [
            None,
            Check(parse_train_sizes, "positive sizes or 'all', e.g. [25, 50, 'all']"),
        ],
        "train_repeats": [Interval(numbers.Integral, 1)],
        "cv": [None, Check(parse_cv, "a number of outer folds >= 2, 'auto' or 0")],
        "external": [None, "path", list, tuple],
    }

    def __init__(
        self,
        dataset,
        out_dir: str | os.PathLike,
        *,
        overwrite: bool = False,
        profile: str = "quick",
        backbones: list[str] | None = None,
        approaches: list[str] | None = None,
        seeds: int | list[int] | None = None,
        weights: str | os.PathLike | None = "imagenet",
        metric: str = "auc",
        cost: str = "time",
        margin: float = 0.02,
        input_size: int | str | None = None,
        train_input_size: int | str | None = None,
        max_epochs: int | None = None,
        lrs: list[float] | None = None,
        fine_tune_blocks: int | None = None,
        pos_label=None,
        groups: str | None = None,
        groups_csv: str | os.PathLike | None = None,
        test_size: float = 0.2,
        cache_path: str | os.PathLike | None = None,
        device: str = "auto",
        batch_size: int = 32,
        n_bootstraps: int | None = None,
        n_threads: int | str | None = None,
        n_jobs: int | None = None,
        calibrate: str = "none",
        target_sensitivity: float | None = None,
        target_specificity: float | None = None,
        task: str = "classification",
        grades: str | list | None = None,
        on_error: str = "raise",
        save: str | list[str] | None = "best",
        annotations: str | os.PathLike | None = None,
        train_sizes: list | str | None = None,
        train_repeats: int = 3,
        cv: int | str | None = "auto",
        external: list | str | os.PathLike | None = None,
        executor=None,
        random_state: int = 0,
        verbose: int = 1,
    ):
        self.dataset = dataset
        self.out_dir = out_dir
        self.overwrite = overwrite
        self.profile = profile
        self.backbones = backbones
        self.approaches = approaches
        self.seeds = seeds
        self.weights = weights
        self.metric = metric
        self.cost = cost
        self.margin = margin
        self.input_size = input_size
        self.train_input_size = train_input_size
        self.max_epochs = max_epochs
        self.lrs = lrs
        self.fine_tune_blocks = fine_tune_blocks
        self.pos_label = pos_label
        self.groups = groups
        self.groups_csv = groups_csv
        self.test_size = test_size
        self.cache_path = cache_path
        self.device = device
        self.batch_size = batch_size
        self.n_bootstraps = n_bootstraps
        self.n_threads = n_threads
        self.n_jobs = n_jobs
        self.calibrate = calibrate
        self.target_sensitivity = target_sensitivity
        self.target_specificity = target_specificity
        self.task = task
        self.grades = grades
        self.on_error = on_error
        self.save = save
        self.annotations = annotations
        self.executor = executor
        self.train_sizes = train_sizes
        self.train_repeats = train_repeats
        self.cv = cv
        self.external = external
        self.random_state = random_state
        self.verbose = verbose

    # -- public API -----------------------------------------------------------------
    def plan(self) -> list[dict]:
        """The cells of the grid, in run order, and whether each is finished.

        Returns
        -------
        list of dict
            ``cell`` (``"backbone / approach / seed k"``), ``backbone``,
            ``approach``, ``seed``, ``key``, ``done``, ``resources`` (what
            the cell asks of a cluster worker, e.g. ``{"GPU": 1}``) and, for a
            finished cell, its measured ``wall_time_s`` and ``extract_time_s``
            (``None`` otherwise).
        """
        self._prepare()
        done = self._store.latest("cell")
        return [
            {
                "cell": c.id,
                "backbone": c.backbone,
                "approach": c.approach.name,
                "seed": c.seed,
                "key": c.key,
                "done": c.key in done,
                "resources": cell_resources(c, self.device),
                "wall_time_s": done.get(c.key, {}).get("wall_time_s"),
                "extract_time_s": done.get(c.key, {}).get("extract_time_s"),
            }
            for c in self.cells_
        ]

    def run(self) -> StudyResults:
        """Run the cells that are not finished yet, then write the report.

        Returns
        -------
        StudyResults

        Raises
        ------
        FileExistsError
            ``out_dir`` holds files but no study, and ``overwrite`` is False.
        """
        out = self._check_out_dir()
        self._prepare()
        out.mkdir(parents=True, exist_ok=True)
        with study_lock(out), torch_threads(self):
            return self._run(out, StudyTimes(self._prepared.preparation_s))

    def report(self) -> StudyResults:
        """Write the tables, report and figures from the finished cells only.

        The selected models are (re)written from the cells' saved models;
        nothing is trained.
        """
        out = self._check_out_dir()
        self._prepare()
        times = StudyTimes(self._prepared.preparation_s)
        return self._write(out, n_run=0, n_skipped=0, failures=[], times=times)

    # -- preparation ------------------------------------------------------------------
    def _check_out_dir(self) -> Path:
        """``out_dir``, after the output rule of every command (before any work)."""
        preflight(self)
        check_out_dir(
            self.out_dir, self.dataset, cache=self.cache_path, overwrite=self.overwrite
        )
        return Path(self.out_dir)

    def _prepare(self) -> None:
        """Resolve profile, data and grid; sets ``cells_`` and friends."""
        prepare(self)

    # -- running ----------------------------------------------------------------------
    def _run(self, out: Path, times: StudyTimes | None = None) -> StudyResults:
        run = StudyRun(self, out, times)
        self._write_manifest(out, run.run_id)
        return run.run()

    # -- outputs ----------------------------------------------------------------------
    def _write_manifest(self, out: Path, run_id: str) -> None:
        atomic_write_text(
            out / MANIFEST_NAME, to_json(manifest(self, run_id), indent=2)
        )

    #: Summarise, save the selected models, write tables, figures and report.
    _write = write_results

    def _report_context(self) -> dict:
        return report_context(self, Path(self.out_dir) / MANIFEST_NAME)
