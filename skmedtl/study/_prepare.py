"""Preparing a :class:`~skmedtl.study.TransferStudy`: its parameters resolved once.

:func:`prepare` checks the parameters, resolves the profile, reads the data
set, orders the grades, chooses the validation split and plans the cells (and
the learning curves and external sets), setting the study's fitted attributes
(``profile_``, ``data_``, ``cells_``, ...). It reads the data again only when a
public parameter changed since the last preparation.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..utils._validation import check_params
from ._approaches import parse_approaches
from ._curves import parse_train_sizes, plan_curves
from ._data import load_study_dataset
from ._external import load_external_sets
from ._localisation import check_annotated_images, check_annotations
from ._manifest import LOG_NAME
from ._measure import StudyTimes
from ._nested import plan_nested
from ._plan import (
    check_grid,
    check_operating_point,
    common_settings,
    operating_point,
    ordered_grades,
    plan_cells,
    profile_overrides,
    study_seeds,
    validation_split,
)
from ._profiles import get_profile
from ._records import ResultStore
from ._save import parse_save

__all__ = ["preflight", "prepare"]


def prepare(study) -> None:
    """Resolve profile, data and grid of ``study``; sets ``cells_`` and friends.

    The same public parameters as the last call: nothing is read again. The
    preparation's wall time goes to ``study._prepared.preparation_s``.
    """
    key = _parameters_key(study)
    if getattr(study, "_prepared_for", None) == key:
        return  # same parameters: the data set is not read again
    study._prepared = StudyTimes()  # its preparation_s: reported by run, report
    with study._prepared.stage("preparation_s"):
        _prepare_now(study)
    study._prepared_for = key


def preflight(study) -> None:
    """The checks every entry point runs before any work, once per parameters.

    Parameters, then the annotations (their own refusal comes before the output
    folder's rule, which :meth:`TransferStudy._check_out_dir` applies next).
    """
    key = _parameters_key(study)
    if getattr(study, "_checked_for", None) == key:
        return
    check_params(study)
    check_annotations(study.annotations, study.out_dir)
    study._checked_for = key


def _parameters_key(study) -> str:
    """The public parameters (objects by identity), as one string."""
    params = {
        k: (
            v
            if isinstance(v, (str, int, float, list, tuple, type(None)))
            or isinstance(v, os.PathLike)
            else id(v)
        )
        for k, v in vars(study).items()
        if not k.startswith("_") and not k.endswith("_")
    }
    return repr(params)


def _prepare_now(study) -> None:
    from ..utils._devices import resolve_device

    preflight(study)
    study.save_ = parse_save(study.save)
    profile = profile_overrides(get_profile(study.profile), vars(study))
    approaches = parse_approaches(
        profile.approaches if study.approaches is None else study.approaches,
        profile.fine_tune_blocks,
    )
    seeds = study_seeds(
        profile.seeds if study.seeds is None else study.seeds, study.random_state
    )
    check_grid(profile, approaches, study.weights)
    device = resolve_device(study.device)
    data = load_study_dataset(
        study.dataset,
        groups=study.groups,
        groups_csv=study.groups_csv,
        test_size=study.test_size,
        random_state=study.random_state,
    ).with_pos_label(study.pos_label)
    data = ordered_grades(data, study.task, study.grades)
    if study.annotations is not None:
        check_annotated_images(data)
    study.profile_ = profile
    study.approaches_ = approaches
    study.seeds_ = seeds
    study.data_ = data
    study.device_ = device
    study.fingerprint_ = data.fingerprint()
    study.threshold_rule_, study.threshold_target_ = operating_point(
        study.target_sensitivity, study.target_specificity
    )
    check_operating_point(study.threshold_rule_, data)
    split = validation_split(data, study.random_state)
    study.val_mask_ = split.mask
    study.validation_source_ = split.source
    study.validation_digest_ = split.digest
    study.cells_ = plan_cells(common_settings(study), profile, approaches, seeds)
    study._store = ResultStore(Path(study.out_dir) / LOG_NAME)
    sizes = parse_train_sizes(study.train_sizes)
    study.curves_ = (
        None if sizes is None else plan_curves(study, sizes, study.train_repeats)
    )
    study.nested_ = plan_nested(study)  # after cells_: one fold cell per cell
    study.nested_results_ = None
    study.external_sets_ = load_external_sets(study.external, study.data_, study.save_)
    study.external_results_ = None
