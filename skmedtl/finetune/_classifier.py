"""FineTuneClassifier: every transfer-learning strategy, one scikit-learn classifier."""

from __future__ import annotations

import copy
import logging
import numbers
import os
import time
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._constants import (
    FEATURE_POOLINGS,
    FINETUNE_PRECISIONS,
    OPTIMIZERS,
    RESIZE_MODES,
    STRATEGIES,
)
from ..backbones import get_backbone
from ..backbones._weights import build_with_weights
from ..features import CNNFeatures, Preprocessing
from ..features._preprocess import resolve_input_size
from ..io._intensity import IntensityPolicy
from ..io._sequence import ImageSequence
from ..utils._devices import resolve_device
from ..utils._transient import persistent_state, transient_attributes
from ..utils._validation import (
    Check,
    Interval,
    Options,
    StrOptions,
    check_params,
    check_seed,
)
from ._augment import resolve_augmentation
from ._data import ImageInput, TensorInput, validation_split
from ._monitor import MONITORS
from ._multilabel import (
    MultiLabelTrainer,
    check_multilabel_targets,
    check_threshold,
    fit_thresholds,
    is_multilabel_target,
    multilabel_pos_weight,
    multilabel_validation_split,
)
from ._network import FineTuneNetwork
from ._strategies import resolve_strategy
from ._training import Trainer, TrainingConfig, predict_logits

__all__ = ["FineTuneClassifier"]

logger = logging.getLogger(__name__)

PRECISIONS = FINETUNE_PRECISIONS
#: ``lr_decay=None`` resolves to this for ``strategy="gradual"`` (1.0 otherwise).
GRADUAL_LR_DECAY = 0.5


def _check_input_size(value) -> None:
    resolve_input_size(value, (224, 224))


class FineTuneClassifier(ClassifierMixin, BaseEstimator):
    """Transfer learning by fine-tuning a CNN: images in, class labels out.

    One estimator for every approach of the review's Fig. 2 (except the hybrid
    one, which is a :class:`~sklearn.pipeline.Pipeline` of
    :class:`~skmedtl.CNNFeatures` and any classifier). The backbone's classifier
    is replaced by global pooling and a new linear head; ``strategy`` decides
    which block groups of the backbone (``get_backbone(name).block_group_names``,
    stem first) train:

    ========================  ==========================================  ===========
    strategy                  trains                                      init
    ========================  ==========================================  ===========
    ``"feature_extractor"``   the new head only                           pretrained
    ``"fine_tune"``           the top ``trainable_blocks`` groups + head  pretrained
    ``"gradual"``             the head, then one more group at a time,    pretrained
                              top-down, each deeper group at a lower
                              learning rate, advancing whenever the
                              validation ``monitor`` stops improving
    ``"full"``                every layer                                 pretrained
    ``"random_init"``         every layer                                 random
    ========================  ==========================================  ===========

    Frozen means frozen: frozen groups get ``requires_grad=False`` and stay in
    eval mode while the rest trains, so their weights and BatchNorm statistics
    are bitwise unchanged by :meth:`fit`. The optimizer holds exactly the
    trainable parameters and is rebuilt whenever that set changes. The weights of
    the best epoch on the validation split are restored at the end (a deep copy,
    not the last epoch's).

    With a frozen backbone and no augmentation (``"feature_extractor"``), the
    images are embedded once by :class:`~skmedtl.CNNFeatures` (through the
    embedding cache when ``cache_path`` is given) and only the head trains on the
    embeddings, which makes it as cheap as the hybrid approach.

    Parameters
    ----------
    backbone : str, default="efficientnet_lite0"
        A registered backbone (:func:`skmedtl.list_backbones`) or
        ``"timm:<model>"``. The default's ImageNet weights install with skmedtl.
    weights : {"imagenet"}, path or None, default="imagenet"
        Pretrained weights, as for :class:`~skmedtl.CNNFeatures`. ``None`` gives
        random initialisation (seeded by ``random_state``). Ignored by
        ``strategy="random_init"``, which always starts from random weights.
    strategy : {"feature_extractor", "fine_tune", "gradual", "full", \
"random_init"}, default="gradual"
        What trains (see the table above). The default follows the review's
        recommendation: start from a frozen pretrained model and unfreeze
        top-down with lower learning rates for deeper layers.
    trainable_blocks : int, default=None
        ``"fine_tune"``: how many block groups, from the top, train (``None``:
        1). ``"gradual"``: the most groups it unfreezes (``None``: all). Ignored
        by the other strategies.
    max_epochs : int, default=20
        Upper bound on the training epochs of one :meth:`fit`.
    batch_size : int, default=32
        Images per optimisation step (and per forward pass when predicting).
    lr : float, default=1e-3
        Learning rate of the head.
    lr_decay : float, default=None
        Discriminative learning rates: the top block group trains at
        ``lr * lr_decay``, the next one down at ``lr * lr_decay**2``, and so on.
        ``None``: 0.5 for ``"gradual"``, 1.0 (one learning rate) otherwise.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
        ``"sgd"`` uses Nesterov momentum 0.9.
    weight_decay : float, default=1e-4
        Weight decay of every trainable parameter (decoupled for ``"adamw"``).
    validation_fraction : float or None, default=0.2
        Share of the training images held out, stratified by class and drawn
        from ``random_state``, to monitor training, stop early, advance the
        ``"gradual"`` schedule and choose the best epoch. ``None`` trains on all
        images for ``max_epochs`` and keeps the last epoch (then
        ``early_stopping`` must be ``False`` and ``strategy`` not
        ``"gradual"``).
    early_stopping : bool, default=True
        Stop when the monitor has not improved for ``patience`` epochs (for
        ``"gradual"``: once every group it may unfreeze is trainable).
    patience : int, default=5
        Epochs without improvement before stopping, or before ``"gradual"``
        unfreezes the next group.
    monitor : {"loss", "accuracy", "balanced_accuracy", "roc_auc"}, \
default="loss"
        Validation metric that picks the best epoch (loss: lower is better;
        ``"roc_auc"`` is one-vs-rest for more than two classes).
    class_weight : dict, "balanced" or None, default=None
        Weights of the cross-entropy loss per class, as in scikit-learn. With a
        multi-label ``y``: ``"balanced"`` weights each label's positives by
        ``n_negative / n_positive`` (``pos_weight`` of the binary cross-entropy).
    threshold : float or "youden", default=0.5
        Multi-label ``y`` only (ignored otherwise): :meth:`predict` calls a label
        present when its probability is at least this; ``"youden"`` chooses one
        threshold per label on the validation split (Youden's J), stored in
        ``thresholds_``.
    augment : bool or callable, default=False
        ``True``: random horizontal flips, rotations up to 10 degrees and 10 %
        brightness / contrast jitter of the training batches
        (:class:`~skmedtl.finetune.LightAugmentation`). A callable receives and
        returns a normalised ``(n, 3, h, w)`` tensor on the training device.
    pooling : {"avg", "max", "gem", "cls", "mean", "cls+mean"}, default="avg"
        Global pooling of the last feature map before the head; the last three
        pool the tokens of vision transformers (see :class:`~skmedtl.CNNFeatures`).
    input_size : int or (int, int), default=None
        Network input size; ``None`` uses the weights' own size. Small sizes
        (e.g. 64 for 28-pixel MedMNIST images) train much faster.
    resize : {"stretch", "crop", "pad"}, default="stretch"
        How images reach ``input_size`` (see :class:`~skmedtl.CNNFeatures`).
    intensity : {"auto", "minmax", "dtype"}, default="auto"
        How raw values become ``[0, 1]`` (see :class:`~skmedtl.CNNFeatures`).
    device : str, default="auto"
        ``"auto"`` trains on CUDA when available, else on the CPU.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        ``"float16"`` / ``"bfloat16"`` train with automatic mixed precision
        (``"float16"`` with gradient scaling, CUDA only). Weights stay float32.
    cache_path : str or path-like, default=None
        An HDF5 embedding cache (:class:`~skmedtl.cache.EmbeddingCache`) used
        when the backbone stays frozen and ``augment`` is off
        (``"feature_extractor"``, or ``"fine_tune"`` with
        ``trainable_blocks=0``): images embedded before, by this estimator or by
        a :class:`~skmedtl.CNNFeatures` with the same configuration, are not
        embedded again, in :meth:`fit` or in :meth:`predict`. Ignored by the
        strategies that train the backbone, whose features change as they train.
    random_state : int, RandomState instance or None, default=None
        Seeds everything random in :meth:`fit`: the validation split, the head
        (and, for random initialisation, the backbone), shuffling, dropout and
        augmentation. torch's global generator is forked, never reseeded: the
        caller's random state is left as it was. Fixed, training on the CPU is
        deterministic.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar over the epochs.
    warm_start : bool, default=False
        ``True``: a new :meth:`fit` continues from the fitted weights (with the
        current ``strategy``, so a ``"feature_extractor"`` fit can be followed by
        a ``"fine_tune"`` one) instead of starting again; ``history_`` continues.
        The backbone and the classes must stay the same; the fitted network and
        preprocessing are kept (``weights``, ``pooling``, ``input_size``,
        ``resize`` and ``intensity`` are not applied again). The optimizer
        state and the early-stopping monitor start fresh; ``random_init`` does
        not re-initialise the weights.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of ndarray
        The class labels (any type ``numpy.unique`` sorts). Multi-label: one
        ``array([0, 1])`` per label, as in ``MultiOutputClassifier``;
        :meth:`predict_proba` then gives ``(n, n_labels)`` per-label
        probabilities and :meth:`predict` a 0/1 matrix.
    thresholds_ : ndarray of shape (n_labels,)
        Multi-label only: the per-label decision thresholds of :meth:`predict`.
    model_ : FineTuneNetwork
        The trained network (backbone, pooling, new head) on the CPU, in eval
        mode; copied to ``device`` to predict. ``model_(x)`` gives logits of a
        normalised batch.
    preprocessing_ : Preprocessing
        The input pipeline (size, interpolation, mean/std, resize, intensity).
    features_ : CNNFeatures or None
        The frozen feature extractor used when only the head trained on
        embeddings (predictions then go through it, and its cache); else None.
    strategy_ : Strategy
        The resolved strategy: pretrained or not, groups trainable per stage.
    history_ : list of dict
        One entry per epoch: ``epoch``, ``stage``, ``trainable`` (the trained
        parts, ``"head"`` first then block groups top-down), ``lr`` (learning
        rate per trained part), ``n_trainable_params``, ``train_loss``,
        ``valid_loss``, ``valid_accuracy``, ``valid_balanced_accuracy``,
        ``valid_roc_auc``, ``best`` (the monitor improved) and ``duration`` (s).
    best_epoch_ : int or None
        Epoch whose weights were restored (``None`` without validation).
    n_epochs_ : int
        Epochs run by the last :meth:`fit`.
    n_trainable_params_ : int
        Parameters trained at the end of the last :meth:`fit`.
    fit_time_ : float
        Seconds spent in the last :meth:`fit`, loading and embedding included.
    training_time_ : float
        Seconds spent in its training epochs.

    See Also
    --------
    skmedtl.CNNFeatures : Frozen-backbone embeddings for the hybrid approach.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.finetune import FineTuneClassifier
    >>> X = np.random.default_rng(0).integers(0, 256, (12, 28, 28), dtype=np.uint8)
    >>> y = np.array(["benign", "malignant"] * 6)
    >>> clf = FineTuneClassifier("lenet5", weights=None, strategy="full",
    ...                          max_epochs=2, validation_fraction=None,
    ...                          early_stopping=False, random_state=0, verbose=0)
    >>> clf.fit(X, y).classes_
    array(['benign', 'malignant'], dtype='<U9')
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    >>> [e["trainable"] for e in clf.history_]
    [['head', 'c5', 'c3', 'c1'], ['head', 'c5', 'c3', 'c1']]
    """

    #: Runtime state (see :mod:`skmedtl.utils._transient`): the network's device
    #: copy and a CPU copy of ``features_``, rebuilt on use; never pickled nor
    #: saved.
    _transient_attributes: ClassVar[dict] = {"_runtime": None, "_cpu_features": None}
    #: Looked up again by name after loading.
    _derived_attributes: ClassVar[tuple] = ("backbone_spec_",)

    _parameter_constraints: dict = {
        "backbone": [str],
        "weights": [None, "path"],
        "strategy": [StrOptions(STRATEGIES)],
        "trainable_blocks": [Interval(numbers.Integral, 0), None],
        "max_epochs": [Interval(numbers.Integral, 1)],
        "batch_size": [Interval(numbers.Integral, 1)],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr_decay": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "optimizer": [StrOptions(OPTIMIZERS)],
        "weight_decay": [Interval(numbers.Real, 0)],
        "validation_fraction": [
            Interval(numbers.Real, 0, 1, closed="neither"),
            Options((0,)),
            None,
        ],
        "early_stopping": ["boolean"],
        "patience": [Interval(numbers.Integral, 1)],
        "monitor": [StrOptions(tuple(MONITORS))],
        "class_weight": [None, StrOptions(("balanced",)), dict],
        "threshold": [
            Interval(numbers.Real, 0, 1, closed="neither"),
            StrOptions(("youden",)),
        ],
        "augment": ["boolean", "callable", None],
        "pooling": [StrOptions(FEATURE_POOLINGS)],
        "input_size": [None, Check(_check_input_size, "an int or (height, width)")],
        "resize": [StrOptions(RESIZE_MODES)],
        "intensity": [Check(IntensityPolicy.from_spec, "an intensity policy")],
        "device": [Check(resolve_device, "a torch device")],
        "precision": [StrOptions(FINETUNE_PRECISIONS)],
        "cache_path": [None, "path"],
        "random_state": ["random_state"],
        "verbose": [Interval(numbers.Integral)],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        *,
        weights: str | os.PathLike | None = "imagenet",
        strategy: str = "gradual",
        trainable_blocks: int | None = None,
        max_epochs: int = 20,
        batch_size: int = 32,
        lr: float = 1e-3,
        lr_decay: float | None = None,
        optimizer: str = "adamw",
        weight_decay: float = 1e-4,
        validation_fraction: float | None = 0.2,
        early_stopping: bool = True,
        patience: int = 5,
        monitor: str = "loss",
        class_weight=None,
        threshold: float | str = 0.5,
        augment=False,
        pooling: str = "avg",
        input_size: int | tuple[int, int] | None = None,
        resize: str = "stretch",
        intensity: str = "auto",
        device: str = "auto",
        precision: str = "float32",
        cache_path: str | os.PathLike | None = None,
        random_state=None,
        verbose: int = 1,
        warm_start: bool = False,
    ):
        self.backbone = backbone
        self.weights = weights
        self.strategy = strategy
        self.trainable_blocks = trainable_blocks
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.monitor = monitor
        self.class_weight = class_weight
        self.threshold = threshold
        self.augment = augment
        self.pooling = pooling
        self.input_size = input_size
        self.resize = resize
        self.intensity = intensity
        self.device = device
        self.precision = precision
        self.cache_path = cache_path
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # -- fit ------------------------------------------------------------------------
    def fit(self, X, y, groups=None, validation_mask=None):
        """Fine-tune the backbone on images ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like or list
            Images: an array ``(n, h, w)``, ``(n, h, w, c)`` or ``(n, c, h, w)``
            (uint8, uint16 or float in ``[0, 1]``), a list of arrays, or a list of
            file paths, as for :class:`~skmedtl.CNNFeatures`.
        y : array-like of shape (n,) or (n, n_labels)
            Class labels of any type, or a 0/1 indicator matrix for multi-label
            data (several findings per image): then the head has one sigmoid
            output per label and trains with binary cross-entropy, the
            validation split is iteratively stratified (Sechidis et al., 2011)
            and the ``"roc_auc"`` monitor is the mean per-label AUC.
        groups : array-like of shape (n,), optional
            Patient (or study) of each image. The validation split then holds
            whole patients (stratified as far as whole patients allow), so early
            stopping and the restored epoch are not chosen on images of patients
            the network trains on. Without ``groups`` the split is by image.
        validation_mask : array-like of bool of shape (n,), optional
            An explicit validation set: the images marked ``True`` are used only
            for early stopping, best-epoch restore and ``gradual`` unfreezing
            (e.g. a data set's official validation split); the network trains
            on the others. Overrides ``validation_fraction`` and ``groups``.

        Returns
        -------
        self
        """
        start = time.perf_counter()
        device = self._check_params()
        images = ImageSequence(X)
        multilabel = is_multilabel_target(y)  # (n, n_labels) 0/1: _multilabel.py
        if multilabel:
            check_threshold(self.threshold)
            y, classes, y_enc = check_multilabel_targets(y, len(images))
        else:
            y = _check_targets(y, len(images))
            classes, y_enc = np.unique(y, return_inverse=True)
        warm = bool(self.warm_start) and hasattr(self, "model_")
        if warm:
            self._check_warm_start(classes)
        spec = get_backbone(self.backbone)
        strategy = resolve_strategy(
            self.strategy, self.trainable_blocks, len(spec.block_group_names)
        )
        seed = check_seed(self.random_state, draw_for_none=True)
        rng = np.random.RandomState(seed)
        if validation_mask is not None:
            train_idx, valid_idx = _mask_split(validation_mask, y_enc)
        elif self.validation_fraction:
            split = multilabel_validation_split if multilabel else validation_split
            train_idx, valid_idx = split(
                y_enc, self.validation_fraction, rng, _check_groups(groups, len(y))
            )
        else:
            train_idx, valid_idx = np.arange(len(images)), None
        head_only = not strategy.trains_backbone and not self.augment
        if (
            self.augment
            and self.cache_path is not None
            and not strategy.trains_backbone
        ):
            raise ValueError(
                "cache_path stores embeddings of the original images, so it cannot "
                "be used with augment; set augment=False to train the head on "
                "cached embeddings, or cache_path=None to train on augmented images."
            )

        with torch.random.fork_rng(devices=_cuda_devices(device)):
            _seed_torch(seed, device)
            if warm:
                network, preprocessing = self.model_, self.preprocessing_
                features = getattr(self, "features_", None)
            else:
                network, preprocessing, features = self._build(
                    spec, strategy, X, head_only, len(classes), seed
                )
            train, valid = self._inputs(
                X,
                images,
                features,
                network,
                preprocessing,
                head_only,
                (train_idx, valid_idx),
                device,
            )
            trainer = (MultiLabelTrainer if multilabel else Trainer)(
                network,
                strategy,
                self._training_config(strategy),
                train=train,
                y_train=y_enc[train_idx],
                valid=valid,
                y_valid=None if valid_idx is None else y_enc[valid_idx],
                device=device,
                rng=rng,
                head_only=head_only,
                class_weight=multilabel_pos_weight(self.class_weight, y, device)
                if multilabel
                else self._class_weight(classes, y, device),
                augment=resolve_augmentation(
                    self.augment, preprocessing.mean, preprocessing.std
                ),
                first_epoch=len(self.history_) + 1 if warm else 1,
            )
            result = trainer.run()
            if multilabel:
                self.thresholds_ = fit_thresholds(self.threshold, trainer, len(classes))

        network.to("cpu").eval()
        self.classes_ = classes
        self.model_ = network
        self.backbone_spec_ = spec
        self.preprocessing_ = preprocessing
        # Embeddings of the pretrained backbone no longer describe a trained one.
        self.features_ = features if not strategy.trains_backbone else None
        self.strategy_ = strategy
        self.history_ = (list(self.history_) if warm else []) + result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = len(result.history)
        self.n_trainable_params_ = result.n_trainable_params
        self.training_time_ = result.training_time
        self.__dict__.update(transient_attributes(type(self)))
        self.fit_time_ = time.perf_counter() - start
        logger.info(
            "Fitted %s (%s) in %.1fs: %d epochs, best epoch %s, %d trainable "
            "parameters.",
            self.backbone,
            self.strategy,
            self.fit_time_,
            self.n_epochs_,
            self.best_epoch_,
            self.n_trainable_params_,
        )
        return self

    # -- predict --------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Logits: ``(n,)`` (class 1 minus class 0) for two classes, else ``(n, k)``.

        Multi-label: one logit per label, ``(n, n_labels)``.

        Parameters
        ----------
        X : array-like or list
            Images, as for :meth:`fit`.
        """
        logits = self._logits(X)
        if isinstance(self.classes_, list):  # multi-label: one logit per label
            return logits
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, columns in ``classes_`` order.

        Multi-label: per-label probabilities ``(n, n_labels)`` (sigmoids; a row
        need not sum to one).

        Parameters
        ----------
        X : array-like or list
            Images, as for :meth:`fit`.
        """
        logits = torch.from_numpy(self._logits(X))
        if isinstance(self.classes_, list):  # multi-label: per-label sigmoid
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted labels (from ``classes_``).

        Multi-label: a 0/1 matrix ``(n, n_labels)``, label ``j`` present where
        its probability is at least ``thresholds_[j]``.

        Parameters
        ----------
        X : array-like or list
            Images, as for :meth:`fit`.
        """
        if isinstance(getattr(self, "classes_", None), list):  # multi-label: 0/1
            return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)
        logits = self._logits(X)
        return self.classes_[logits.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = True
        return tags

    # -- internals ------------------------------------------------------------------
    def _build(self, spec, strategy, X, head_only, n_classes, seed):
        """Backbone with weights, preprocessing, network (and the feature extractor)."""
        weights = self.weights if strategy.pretrained else None
        features = None
        if head_only:
            features = CNNFeatures(
                self.backbone,
                weights=weights,
                pooling=self.pooling,
                input_size=self.input_size,
                resize=self.resize,
                intensity=self.intensity,
                batch_size=self.batch_size,
                device=self.device,
                verbose=self.verbose,
                random_state=seed,
                cache_path=self.cache_path,
            ).fit(X)
            backbone, preprocessing = features.model_, features.preprocessing_
        else:
            backbone, key = build_with_weights(
                spec,
                weights,
                random_state=seed if weights is None else None,
                progress=self.verbose > 0,
            )
            preprocessing = Preprocessing.from_config(
                spec.data_config(key),
                input_size=self.input_size,
                resize=self.resize,
                intensity=self.intensity,
            )
        # The head's initialisation, whatever came before (the CPU generator).
        _seed_torch(seed, torch.device("cpu"))
        network = FineTuneNetwork(self.backbone, backbone, n_classes, self.pooling)
        return network, preprocessing, features

    def _inputs(
        self, X, images, features, network, preprocessing, head_only, split, device
    ):
        """Training and validation inputs: embeddings, or preprocessed images."""
        if head_only:
            embeddings = self._embed(X, images, features, network, preprocessing)
            network.head.to(device)
            return [
                None if idx is None else TensorInput(embeddings[idx], device)
                for idx in split
            ]
        network.to(device, memory_format=torch.channels_last)
        inputs = []
        for idx in split:
            if idx is None:
                inputs.append(None)
                continue
            inputs.append(ImageInput(_Subset(images, idx), preprocessing, device))
            inputs[-1].precompute()
        return inputs

    def _embed(self, X, images, features, network, preprocessing) -> np.ndarray:
        """Pooled features of every image, from the (frozen) backbone."""
        if features is not None:
            return features.transform(X)
        # warm start after the backbone trained: embed with the network itself
        device = resolve_device(self.device)
        network.to(device, memory_format=torch.channels_last).eval()
        inputs = ImageInput(images, preprocessing, device)
        return predict_logits(
            network.features, inputs, len(images), self.batch_size
        ).numpy()

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        features = self._runtime_features()
        if features is not None:
            embeddings = torch.from_numpy(features.transform(X))
            with torch.inference_mode():
                return self.model_.head(embeddings).float().numpy()
        images = ImageSequence(X)
        network, device = self._runtime_network()
        inputs = ImageInput(images, self.preprocessing_, device)
        return predict_logits(network, inputs, len(images), self.batch_size).numpy()

    def _runtime_features(self) -> CNNFeatures | None:
        """``features_``, or a CPU copy when its device is missing here."""
        features = getattr(self, "features_", None)
        if features is None:
            return None
        device = _inference_device(features.device)
        if device.type == "cpu" and features.device not in ("auto", "cpu"):
            cpu = self.__dict__.get("_cpu_features")
            if cpu is None:
                cpu = copy.copy(features)  # shares the weights, not the runtime
                cpu.device = "cpu"
                self._cpu_features = cpu
            return cpu
        return features

    def _runtime_network(self):
        device = _inference_device(self.device)
        runtime = getattr(self, "_runtime", None)
        if runtime is None or runtime[1] != device:
            network = (
                self.model_ if device.type == "cpu" else copy.deepcopy(self.model_)
            )
            network = network.to(device, memory_format=torch.channels_last).eval()
            self._runtime = runtime = (network, device)
        return runtime

    def _training_config(self, strategy) -> TrainingConfig:
        lr_decay = self.lr_decay
        if lr_decay is None:
            lr_decay = GRADUAL_LR_DECAY if strategy.name == "gradual" else 1.0
        return TrainingConfig(
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            lr_decay=float(lr_decay),
            optimizer=self.optimizer,
            weight_decay=float(self.weight_decay),
            early_stopping=bool(self.early_stopping),
            patience=int(self.patience),
            monitor=self.monitor,
            precision=self.precision,
            verbose=int(self.verbose),
            description=f"{self.backbone} {self.strategy}",
        )

    def _class_weight(self, classes, y, device) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        try:
            weights = compute_class_weight(self.class_weight, classes=classes, y=y)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"Invalid class_weight {self.class_weight!r}: {e} Use None, "
                "'balanced' or a dict {label: weight}."
            ) from e
        return torch.as_tensor(weights, dtype=torch.float32, device=device)

    def _check_warm_start(self, classes) -> None:
        if self.backbone != self.model_.backbone_name:
            raise ValueError(
                f"warm_start=True continues training the fitted "
                f"{self.model_.backbone_name!r} network, but backbone is now "
                f"{self.backbone!r}. Set warm_start=False to start again."
            )
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True needs the classes of the first fit "
                f"{np.asarray(self.classes_).tolist()}; got "
                f"{np.asarray(classes).tolist()}. Set "
                "warm_start=False to start again."
            )

    def _check_params(self) -> torch.device:
        """Validate every parameter; return the training device."""
        check_params(self)
        if not self.validation_fraction and (
            self.early_stopping or self.strategy == "gradual"
        ):
            what = (
                "strategy='gradual' (it advances when validation stops improving)"
                if self.strategy == "gradual"
                else "early_stopping=True"
            )
            raise ValueError(
                f"{what} needs a validation split, but validation_fraction="
                f"{self.validation_fraction!r}. Set validation_fraction (e.g. 0.2)"
                + (", or early_stopping=False." if self.strategy != "gradual" else ".")
            )
        device = resolve_device(self.device)
        if self.precision == "float16" and device.type != "cuda":
            raise ValueError(
                "precision='float16' (mixed precision with gradient scaling) needs a "
                f"CUDA device; training runs on {device}. Use precision='bfloat16' "
                "or 'float32'."
            )
        return device

    # -- pickling -------------------------------------------------------------------
    def __getstate__(self):
        return persistent_state(self)

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "model_" in state:
            self.backbone_spec_ = get_backbone(self.backbone)


class _Subset:
    """Some images of an :class:`ImageSequence`, by index (lazily read)."""

    def __init__(self, images: ImageSequence, indices: np.ndarray):
        self.images = images
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.images[int(self.indices[i])]

    def describe(self, i: int) -> str:
        return self.images.describe(int(self.indices[i]))


def _check_targets(y, n: int) -> np.ndarray:
    if y is None:
        raise ValueError(
            "FineTuneClassifier needs labels: call fit(X, y) with y of shape (n,)."
        )
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if len(y) != n:
        raise ValueError(f"X has {n} images but y has {len(y)} labels.")
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"y has a single class ({np.unique(y)[0]!r}); a classifier needs at "
            "least two."
        )
    return y


def _mask_split(mask, y_enc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mask = np.asarray(mask)
    if mask.shape != (len(y_enc),) or mask.dtype != bool:  # y_enc 2-D: multi-label
        raise ValueError(
            f"validation_mask must be a boolean array with one entry per image "
            f"(shape ({len(y_enc)},)); got dtype {mask.dtype}, shape {mask.shape}."
        )
    if mask.all() or not mask.any():
        raise ValueError(
            "validation_mask must mark some images (validation) and leave others "
            "(training)."
        )
    if len(np.unique(y_enc[~mask])) < len(np.unique(y_enc)):
        raise ValueError("validation_mask leaves a class out of the training images.")
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _check_groups(groups, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(
            f"groups must give one patient id per image: shape ({n},), got "
            f"{groups.shape}."
        )
    return groups


def _seed_torch(seed: int, device: torch.device) -> None:
    """Seed the CPU generator and that of ``device`` only.

    ``torch.manual_seed`` would reseed every CUDA device, beyond what
    ``fork_rng`` restores.
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


def _cuda_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _inference_device(device) -> torch.device:
    """The prediction device; CPU when a pickled model meets a machine without CUDA."""
    try:
        return resolve_device(device)
    except ValueError:
        if str(device).startswith("cuda"):
            logger.warning(
                "device=%r is not available here; predicting on the CPU.", device
            )
            return torch.device("cpu")
        raise
