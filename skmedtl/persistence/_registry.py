"""The types a saved model may hold, and how each is rebuilt.

Loading refuses every type that is not listed here, so a model directory can
only ever produce these objects: skmedtl's estimators and a ``Pipeline`` of them
(:data:`ESTIMATORS`), a few plain dataclasses (:data:`DATACLASSES`), networks of
known kinds (``_networks.py``), and scikit-learn / XGBoost heads
(``_foreign.py``). Classes are named by their public import path, so moving a
class between private modules does not break saved models.

A new estimator (a calibrated-classifier wrapper, say) becomes saveable with one
:func:`register_estimator` call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["DATACLASSES", "ESTIMATORS", "EstimatorType", "register_estimator"]


@dataclass(frozen=True)
class EstimatorType:
    """How an estimator class is saved and rebuilt.

    Its ``get_params(deep=False)`` and the rest of its ``__dict__`` (fitted
    attributes) are encoded value by value; ``__init__`` is called with the
    parameters on load and the fitted attributes are set afterwards.

    Parameters
    ----------
    name : str
        Public import path of the class (``"skmedtl.CNNFeatures"``).
    runtime : mapping of str to object
        Attributes not saved (device copies, engines): set to these values on
        load, as ``fit`` leaves them.
    dropped : tuple of str
        Attributes not saved and rebuilt by ``after_load``.
    after_load : callable, optional
        ``after_load(estimator)`` finishes a loaded estimator.
    save_params : callable, optional
        ``save_params(params) -> params`` turns parameters into saveable ones.
    inert : tuple of str
        Parameters that name a place to run or to reach (a scheduler address, a
        device, a cache file on the saver's machine): never persisted. They are
        written as the class default and reset to it on load, whatever the file
        says, so a loaded model connects to nothing and runs where it is loaded.
    """

    name: str
    runtime: Mapping[str, object] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    after_load: Callable | None = None
    save_params: Callable | None = None
    inert: tuple[str, ...] = ()

    def resolve(self) -> type:
        return resolve(self.name)

    def transient(self) -> dict:
        """Attributes not saved, with their values after loading: the class's
        own declaration (``_transient_attributes``) and ``runtime``."""
        from ..utils._transient import transient_attributes

        return {**transient_attributes(self.resolve()), **self.runtime}

    def derived(self) -> tuple[str, ...]:
        """Attributes not saved and rebuilt by ``after_load``: the class's
        ``_derived_attributes`` and ``dropped``."""
        from ..utils._transient import derived_attributes

        return (*derived_attributes(self.resolve()), *self.dropped)


def resolve(name: str):
    """The object at public import path ``name`` (``"package.module.Name"``)."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


#: Estimator types by public name.
ESTIMATORS: dict[str, EstimatorType] = {}


def register_estimator(
    name: str,
    *,
    runtime: Mapping[str, object] | None = None,
    dropped: tuple[str, ...] = (),
    after_load: Callable | None = None,
    save_params: Callable | None = None,
    inert: tuple[str, ...] = (),
) -> EstimatorType:
    """Allow :func:`skmedtl.save` / :func:`skmedtl.load` to handle a class.

    Parameters
    ----------
    name : str
        Public import path of the class, e.g. ``"skmedtl.CNNFeatures"``.
    runtime, dropped, after_load, save_params, inert
        See :class:`EstimatorType`.

    Returns
    -------
    EstimatorType
    """
    entry = EstimatorType(
        name, dict(runtime or {}), tuple(dropped), after_load, save_params,
        tuple(inert),
    )
    ESTIMATORS[name] = entry
    return entry


def _look_up_backbone(estimator) -> None:
    if "model_" in estimator.__dict__:
        from ..backbones import get_backbone

        estimator.backbone_spec_ = get_backbone(estimator.backbone)


def _check_augment(params: dict) -> dict:
    if callable(params.get("augment")) and not isinstance(params["augment"], bool):
        raise TypeError(
            "FineTuneClassifier(augment=<callable>) cannot be saved: a function is "
            "code, and a saved model holds data only. Augmentation only matters in "
            "fit: call set_params(augment=False) (or True) before skmedtl.save."
        )
    return params


#: Parameters of skmedtl's network estimators that are never persisted: each
#: names somewhere to connect to or run on, chosen by whoever saved the model.
#: ``client``: a Dask scheduler (a loaded model would send images to it and
#: unpickle its replies); ``device``: the saver's GPU; ``cache_path``: a file on
#: the saver's machine (a loaded model would write there).
INERT_PARAMS = ("client", "device", "cache_path")

register_estimator("sklearn.pipeline.Pipeline")
register_estimator("skmedtl.hybrid.HybridPipeline")  # make_hybrid; multi-label heads
# Multi-label hybrids: one head per label, each possibly a skmedtl TunedClassifier,
# which skops cannot hold; its heads are encoded one by one instead.
register_estimator("sklearn.multioutput.MultiOutputClassifier")
# Their runtime state is declared once, on the class (``_transient_attributes``,
# ``_derived_attributes``), and read from there by the codec and by pickling.
register_estimator(
    "skmedtl.CNNFeatures",
    after_load=_look_up_backbone,
    inert=INERT_PARAMS,
)
register_estimator(
    "skmedtl.FineTuneClassifier",
    after_load=_look_up_backbone,
    save_params=_check_augment,
    inert=INERT_PARAMS,
)
register_estimator("skmedtl.ImageLoader")
register_estimator("skmedtl.VolumeFeatures")
register_estimator("skmedtl.hybrid.LabelEncodedClassifier")
register_estimator("skmedtl.hybrid.TunedClassifier")
register_estimator("skmedtl.study.StudyModel")  # a study's selected model
register_estimator("skmedtl.study.MultiLabelStudyModel")  # ... for multi-label data
register_estimator("skmedtl.metrics.ProbabilityCalibrator")
register_estimator("skmedtl.metrics.TemperatureScaling")

#: Frozen dataclasses rebuilt from their fields.
DATACLASSES = (
    "skmedtl.features.Preprocessing",
    "skmedtl.finetune.Strategy",
    "skmedtl.io.IntensityPolicy",
)


def estimator_type(obj) -> EstimatorType | None:
    """The registered type of ``obj`` (exact class, not subclasses), or None."""
    for entry in ESTIMATORS.values():
        try:
            cls = entry.resolve()
        except (ImportError, AttributeError):
            continue
        if type(obj) is cls:
            return entry
    return None


def dataclass_name(obj) -> str | None:
    """The public name of ``obj``'s class if it is an allowed dataclass."""
    for name in DATACLASSES:
        try:
            cls = resolve(name)
        except (ImportError, AttributeError):
            continue
        if type(obj) is cls:
            return name
    return None
