"""What a fitted model is made of, as far as explaining it is concerned.

:func:`resolve_model` unwraps a ``GridSearchCV``, recognises a
:class:`~skmedtl.finetune.FineTuneClassifier` or a hybrid pipeline
(``[ImageLoader] -> CNNFeatures -> [scaler] -> classifier``) and returns an
:class:`ExplainableModel`: how to read the images, the preprocessing, the class
labels, ``predict_proba`` on decoded images, and (where the whole model is
differentiable) a torch module from a normalised image batch to class scores
whose last feature map passes through an ``nn.Identity`` named ``fmap``, the
layer the CAM methods explain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

__all__ = ["ExplainableModel", "ScoreNetwork", "resolve_model"]


@dataclass
class ExplainableModel:
    """A fitted model, taken apart.

    Attributes
    ----------
    name : str
        How to name the model in messages (``"FineTuneClassifier"``, ...).
    classes : ndarray
        Class labels, in the column order of ``predict_proba``.
    preprocessing : Preprocessing
        Images to network input.
    read : callable
        ``read(X) -> ImageSequence`` of decoded images (runs an ``ImageLoader``
        first step when there is one).
    predict_proba : callable
        Class probabilities of decoded images (list or array).
    network : callable or None
        ``network() -> (ScoreNetwork, device)``; ``None`` when some step has no
        gradient.
    no_gradient : str
        Why ``network`` is ``None``.
    """

    name: str
    classes: np.ndarray
    preprocessing: object
    read: Callable
    predict_proba: Callable
    network: Callable | None
    no_gradient: str = ""


class ScoreNetwork(nn.Module):
    """Normalised images ``(n, 3, h, w)`` to class scores ``(n, n_classes)``.

    The feature map passes through ``self.fmap`` (an ``nn.Identity``), where the
    CAM methods hook. The scores are the logits minus their mean over the
    classes (softmax gives the same probabilities for any constant added to all
    logits, so that constant is no evidence for any class); a binary linear
    head's decision ``d`` counts as the logits ``(0, d)``, i.e. ``(-d/2, d/2)``.

    Parameters
    ----------
    spec : BackboneSpec
        The backbone's registry entry.
    backbone : nn.Module
        The backbone (not modified; nothing stays registered on it).
    layer : str or None
        Module name whose output is the feature map (``None``: the last one).
    pooling : str
        Global pooling of the feature map.
    head : nn.Module
        Pooled features to logits (or to one decision column for two classes).
    n_classes : int
        Number of classes.
    """

    def __init__(self, spec, backbone, layer, pooling, head, n_classes):
        super().__init__()
        from ..features._extractor import FeatureExtractor

        self.extractor = FeatureExtractor(spec, backbone, layer, pooling)
        self.fmap = nn.Identity()
        self.head = head
        self.n_classes = n_classes

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        extractor = self.extractor
        if extractor.layer_module is None:
            return extractor.spec.adapter.forward_features(extractor.model, x)
        return extractor._forward_until(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.fmap(self.feature_map(x))
        out = self.head(self.extractor._pool(fmap))
        if out.shape[1] == 1:  # a binary linear head: the positive class's decision
            out = torch.cat([torch.zeros_like(out), out], dim=1)
        # Softmax ignores a constant added to every logit, so the scores are
        # centred: evidence shared by all classes does not count for any.
        return out - out.mean(dim=1, keepdim=True)


class _LinearHead(nn.Module):
    """A fitted scaler (or PCA) and linear classifier as one torch module."""

    def __init__(self, steps: list[tuple[torch.Tensor, torch.Tensor]]):
        super().__init__()
        # Each step: z -> z @ weight.T + bias (float64 -> float32 buffers).
        self.n_steps = len(steps)
        for i, (weight, bias) in enumerate(steps):
            self.register_buffer(f"weight{i}", weight)
            self.register_buffer(f"bias{i}", bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_steps):
            z = z @ getattr(self, f"weight{i}").T + getattr(self, f"bias{i}")
        return z


def resolve_model(model) -> ExplainableModel:
    """Take a fitted model apart (see the module docstring).

    Raises
    ------
    TypeError
        For a model that is neither a FineTuneClassifier nor a hybrid pipeline.
    NotFittedError
        For an unfitted model.
    """
    from sklearn.pipeline import Pipeline

    from ..features import CNNFeatures
    from ..finetune import FineTuneClassifier

    inner = model
    if type(inner).__name__ == "StudyModel":  # a study's saved model: its network
        inner = inner.estimator
    if hasattr(inner, "cv_results_") or (
        hasattr(inner, "estimator") and hasattr(inner, "refit")
    ):  # GridSearchCV, RandomizedSearchCV, HalvingGridSearchCV
        if not hasattr(inner, "best_estimator_"):
            raise NotFittedError(
                f"{type(model).__name__} has no best_estimator_: fit it (with "
                "refit=True) before explaining it."
            )
        inner = inner.best_estimator_
    if isinstance(inner, FineTuneClassifier):
        return _finetune(inner)
    if isinstance(inner, Pipeline):
        steps = [s for _, s in inner.steps]
        loader = None
        from ..io import ImageLoader

        if steps and isinstance(steps[0], ImageLoader):
            loader, steps = steps[0], steps[1:]
        if steps and isinstance(steps[0], CNNFeatures):
            return _hybrid(inner, loader, steps)
    raise TypeError(
        "model must be a fitted FineTuneClassifier, a Pipeline whose first step is "
        "CNNFeatures (after an optional ImageLoader), such as make_hybrid(...), or "
        f"a GridSearchCV around either; got {type(model).__name__}."
    )


def _reader(loader):
    from ..io import ImageSequence

    def read(X):
        if loader is not None:
            return ImageSequence(loader.transform(X))
        return ImageSequence(X)

    return read


def _finetune(clf) -> ExplainableModel:
    if not hasattr(clf, "model_"):
        raise NotFittedError(
            "This FineTuneClassifier is not fitted yet; call fit(X, y) before "
            "explaining it."
        )

    def network():
        net, device = clf._runtime_network()
        head = net.head
        return (
            ScoreNetwork(
                net.spec, net.backbone, None, net.pooling, head, len(clf.classes_)
            ),
            device,
        )

    return ExplainableModel(
        name="FineTuneClassifier",
        classes=np.asarray(clf.classes_),
        preprocessing=clf.preprocessing_,
        read=_reader(None),
        predict_proba=clf.predict_proba,
        network=network,
    )


def _hybrid(pipe, loader, steps) -> ExplainableModel:
    features, rest = steps[0], steps[1:]
    if not hasattr(features, "model_"):
        raise NotFittedError(
            "This pipeline is not fitted yet; call fit(X, y) before explaining it."
        )
    clf = rest[-1] if rest else None
    if clf is None or not hasattr(clf, "classes_"):
        raise TypeError(
            "The pipeline must end in a fitted classifier (with classes_) to be "
            "explained."
        )
    tail = pipe[len(pipe) - len(steps) :]  # without the ImageLoader

    def predict_proba(images):
        return tail.predict_proba(images)

    head, reason = _linear_head(rest, features.n_features_out_)

    network = None
    if head is not None:

        def network():
            extractor, device = features._extractor()
            module = ScoreNetwork(
                features.backbone_spec_,
                extractor.model,
                features.layer,
                features.pooling,
                head.to(device),
                len(clf.classes_),
            )
            return module, device

    return ExplainableModel(
        name=f"Pipeline ({type(clf).__name__} head)",
        classes=np.asarray(clf.classes_),
        preprocessing=features.preprocessing_,
        read=_reader(loader),
        predict_proba=predict_proba
        if hasattr(tail, "predict_proba")
        else _no_proba(clf),
        network=network,
        no_gradient=reason,
    )


def _no_proba(clf):
    def predict_proba(images):
        raise TypeError(
            f"method='occlusion' needs predict_proba, which {type(clf).__name__} "
            "does not have (e.g. SVC without probabilities). Wrap it in "
            "CalibratedClassifierCV, or use a head with predict_proba."
        )

    return predict_proba


def _linear_head(steps, n_features) -> tuple[_LinearHead | None, str]:
    """The steps after CNNFeatures as affine maps, or why they are not affine."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model._base import LinearClassifierMixin
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, NuSVC

    from ..hybrid import LabelEncodedClassifier, TunedClassifier

    affine = []
    for step in steps[:-1]:
        if step is None or step == "passthrough":
            continue
        if isinstance(step, StandardScaler):
            scale = np.ones(n_features) if step.scale_ is None else step.scale_
            mean = np.zeros(n_features) if step.mean_ is None else step.mean_
            affine.append((np.diag(1.0 / scale), -mean / scale))
        elif isinstance(step, PCA):
            weight = step.components_
            if step.whiten:
                weight = weight / np.sqrt(step.explained_variance_)[:, None]
            affine.append((weight, -weight @ step.mean_))
            n_features = weight.shape[0]
        else:
            return None, (
                f"the pipeline step {type(step).__name__} has no gradient (only "
                "StandardScaler and PCA are composed into the network)"
            )
    clf = steps[-1]
    # make_hybrid's heads wrap the classifier: label encoding, self-tuning.
    while isinstance(clf, (LabelEncodedClassifier, TunedClassifier)):
        if isinstance(clf, TunedClassifier):
            clf = clf.best_estimator_
        else:
            clf = clf.estimator_
    linear = isinstance(clf, LinearClassifierMixin) or (
        isinstance(clf, (SVC, NuSVC))
        and clf.kernel == "linear"
        and len(clf.classes_) == 2
    )
    if not linear:
        return None, (
            f"its head {type(clf).__name__} is not linear (only linear heads such "
            "as LogisticRegression, LinearSVC or SVC(kernel='linear') have a "
            "gradient through the pipeline)"
        )
    coef = np.asarray(
        clf.coef_.toarray() if hasattr(clf.coef_, "toarray") else clf.coef_,
        dtype=np.float64,
    )
    intercept = np.atleast_1d(np.asarray(clf.intercept_, dtype=np.float64))
    affine.append((coef, intercept))
    return _LinearHead(
        [
            (
                torch.tensor(np.array(w, dtype=np.float32)),
                torch.tensor(np.array(b, dtype=np.float32)),
            )
            for w, b in affine
        ]
    ), ""
