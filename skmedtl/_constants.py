"""The names skmedtl's parameters accept, in one torch-free module.

The estimators' parameter tables (:mod:`skmedtl.utils._validation`) and the
command-line interface import these, so a choice is spelled in one place and the
CLI can offer it without importing torch.
"""

from __future__ import annotations

__all__ = [
    "APPROACHES",
    "BACKENDS",
    "CACHE_DTYPES",
    "CACHE_MODES",
    "CHANNEL_POLICY",
    "COST_MEASURES",
    "FEATURE_POOLINGS",
    "FINETUNE_PRECISIONS",
    "HEADS",
    "INTENSITY_KINDS",
    "ON_CORRUPT",
    "ON_ERROR",
    "OPTIMIZERS",
    "PRECISIONS",
    "RESIZE_MODES",
    "SALIENCY_METHODS",
    "CAM_PLACEMENTS",
    "DEFAULT_CAM_PLACEMENT",
    "SELECTION_METRICS",
    "SLICE_MODES",
    "SLICE_POOLINGS",
    "STRATEGIES",
]

#: ``CNNFeatures(precision=...)``: the dtype of the forward pass.
PRECISIONS = ("float32", "float16", "bfloat16", "int8")
#: ``FineTuneClassifier(precision=...)``: the same names, float32 first.
FINETUNE_PRECISIONS = ("float32", "bfloat16", "float16")
#: ``CNNFeatures(backend=...)``: the inference engine.
BACKENDS = ("auto", "torch", "onnxruntime")
#: ``CNNFeatures(pooling=...)``: how a feature map becomes one vector.
FEATURE_POOLINGS = ("avg", "max", "gem", "cls", "mean", "cls+mean")
#: ``CNNFeatures(resize=...)``: how images reach the network's input size.
RESIZE_MODES = ("stretch", "crop", "pad")
#: The named intensity policies (windows and percentiles also take tuples); see
#: :class:`skmedtl.io.IntensityPolicy`.
INTENSITY_KINDS = ("auto", "dtype", "minmax", "percentile", "voi")
#: How greyscale input fills the three channels of an ImageNet network.
CHANNEL_POLICY = "repeat"
#: Storage dtype and open mode of the embedding cache.
CACHE_DTYPES = ("float32", "float16")
CACHE_MODES = ("a", "r")
#: ``VolumeFeatures(mode=...)`` / ``volume_to_slices(mode=...)``.
SLICE_MODES = ("2d", "2.5d")
#: ``VolumeFeatures(pooling=...)`` / ``pool_slices(method=...)``.
SLICE_POOLINGS = ("mean", "max")
#: ``on_error=``: stop at the first unreadable file, or skip it with a warning.
ON_ERROR = ("raise", "skip")
#: ``EmbeddingCache(on_corrupt=...)``: a damaged cache file raises, or is moved
#: aside and the cache starts afresh.
ON_CORRUPT = ("raise", "rebuild")
#: ``make_hybrid(head=...)``.
HEADS = ("svm", "logreg", "rf", "xgboost")
#: ``FineTuneClassifier(strategy=...)`` (the review's Fig. 2).
STRATEGIES = ("feature_extractor", "fine_tune", "gradual", "full", "random_init")
#: ``FineTuneClassifier(optimizer=...)``.
OPTIMIZERS = ("adamw", "adam", "sgd")
#: Approach names of a study, in the order of the review (Kim et al. 2022,
#: Fig. 2), then the baselines. ``fine_tune`` takes a block count:
#: ``"fine_tune:2"``.
APPROACHES = (
    "feature_extractor",
    *(f"hybrid-{head}" for head in HEADS),
    "fine_tune",
    "gradual",
    "full",
    "random_init",
)
#: Metrics a study's recommendation can maximise.
SELECTION_METRICS = ("auc", "balanced_accuracy", "accuracy")
#: What a study's recommendation can minimise as "cheapest" (the keys of
#: :data:`skmedtl.study.COSTS`, which adds each one's column and description).
COST_MEASURES = ("time", "inference", "params", "memory")
#: ``skmedtl.explain.saliency``'s default method: the one that localised best on
#: the planted-lesion benchmark (benchmarks/explain/RESULTS.md).
DEFAULT_SALIENCY_METHOD = "layercam"
#: ``skmedtl.explain.saliency(method=...)``: Grad-CAM family, then occlusion.
SALIENCY_METHODS = (
    "gradcam",
    "gradcam++",
    "hirescam",
    "layercam",
    "gradxinput",
    "integrated_gradients",
    "occlusion",
)
#: Where a CAM's cells are placed: ``"measured"`` (the traced grid shifted to
#: where the network responds) or ``"traced"`` (the architecture's own grid).
CAM_PLACEMENTS = ("measured", "traced")
#: The placement ``skmedtl.explain.saliency`` uses when none is given.
DEFAULT_CAM_PLACEMENT = "measured"
