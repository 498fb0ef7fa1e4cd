"""Study profiles: ready-made grids and training budgets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..utils._naming import did_you_mean
from ._approaches import APPROACHES

__all__ = ["PROFILES", "Profile", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """What a study runs when its parameters leave it to the profile.

    Attributes
    ----------
    name : str
    backbones : tuple of str
    approaches : tuple of str
    fine_tune_blocks : int
        ``K`` of a bare ``"fine_tune"`` (the top ``K`` block groups train).
    input_size : int or None
        Input size of the frozen approaches (``None``: the weights' own size).
    train_input_size : int or None
        Input size of the approaches that train the backbone (``None``: the
        weights' own size). Every built-in profile sets it equal to
        ``input_size``, so that all approaches are compared like for like; the
        study's ``input_size`` parameter sets both, and its
        ``train_input_size`` is the explicit request for another size (the
        report then flags the rows that differ).
    max_epochs, patience : int
        Training budget and early-stopping patience (also the epochs without
        improvement after which ``gradual`` unfreezes the next group).
    head_max_epochs, head_patience : int
        Budget of the ``feature_extractor`` approach, which trains only a
        linear head on cached embeddings (cheap, so it gets more epochs).
    lrs : tuple of float
        Learning rates tried by the trained approaches; with more than one, the
        one with the lowest validation loss is kept.
    seeds : int
        Repetitions with different random seeds.
    n_bootstraps : int
        Bootstrap resamples of the test set for the confidence intervals.
    cv_folds : int
        Unused since the study validates every cell on one validation split
        (kept so that custom profiles keep working).
    head_grid : {"small", "full"}
        Hyperparameter grids of the hybrid heads (see ``_heads.HEAD_GRIDS``).
    """

    name: str
    backbones: tuple[str, ...]
    approaches: tuple[str, ...]
    fine_tune_blocks: int
    input_size: int | None
    train_input_size: int | None
    max_epochs: int
    patience: int
    head_max_epochs: int
    head_patience: int
    lrs: tuple[float, ...]
    seeds: int
    n_bootstraps: int
    cv_folds: int
    head_grid: str
    description: str = field(default="", compare=False)

    def replace(self, **changes) -> Profile:
        """A copy with some settings changed."""
        return replace(self, **changes)


#: The study profiles by name: ``"quick"`` (minutes on a CPU), ``"standard"``
#: (GPU recommended) and ``"thorough"`` (GPU needed). See :class:`Profile`.
PROFILES = {
    # Sized for a laptop CPU and the bundled BreastMNIST (780 images): every
    # approach once, on the backbone whose ImageNet weights ship with skmedtl.
    # Every approach sees the same 64 px, so that the table compares approaches,
    # not resolutions: an epoch of EfficientNet-Lite0 over 546 images takes
    # ~3-5 s at 64 px and about 12x that at 224 px, so the trained approaches
    # cannot have 224 px in minutes, and the frozen ones come down to them. On
    # the demo this cost the frozen approaches nothing measurable (test AUC at
    # 224 px -0.041 to +0.048, mean -0.001; BreastMNIST's 28-px images are
    # upsampled either way): benchmarks/protocol/BEFORE_AFTER.md.
    # The whole profile: about a minute on 2 idle cores (64 s on the demo).
    "quick": Profile(
        name="quick",
        backbones=("efficientnet_lite0",),
        approaches=APPROACHES,
        fine_tune_blocks=2,
        input_size=64,
        train_input_size=64,
        max_epochs=5,
        patience=2,
        head_max_epochs=50,
        head_patience=5,
        lrs=(1e-3,),
        seeds=1,
        n_bootstraps=1000,
        cv_folds=3,
        head_grid="small",
        description="every approach once on efficientnet_lite0, all at 64 px "
        "(like for like, and minutes on a CPU); at most 5 epochs",
    ),
    # A real comparison, for a GPU (or a night on a CPU): four backbones with
    # different cost profiles at their native input size, two learning rates.
    "standard": Profile(
        name="standard",
        backbones=("efficientnet_lite0", "mobilenet_v2", "resnet50", "densenet121"),
        approaches=APPROACHES,
        fine_tune_blocks=2,
        input_size=None,
        train_input_size=None,
        max_epochs=20,
        patience=4,
        head_max_epochs=100,
        head_patience=10,
        lrs=(1e-3, 1e-4),
        seeds=3,
        n_bootstraps=1000,
        cv_folds=5,
        head_grid="small",
        description="four backbones at native size, 20 epochs, learning rate "
        "chosen on validation, three seeds (GPU recommended)",
    ),
    # The review's most used backbones, several fine-tuning depths, larger
    # searches and three seeds.
    "thorough": Profile(
        name="thorough",
        backbones=(
            "alexnet",
            "vgg16",
            "inception_v3",
            "resnet18",
            "resnet50",
            "densenet121",
            "mobilenet_v2",
            "efficientnet_b0",
            "efficientnet_lite0",
        ),
        approaches=(
            *APPROACHES[:5],
            "fine_tune:1",
            "fine_tune:2",
            "fine_tune:3",
            *APPROACHES[6:],
        ),
        fine_tune_blocks=2,
        input_size=None,
        train_input_size=None,
        max_epochs=50,
        patience=8,
        head_max_epochs=200,
        head_patience=10,
        lrs=(1e-3, 3e-4, 1e-4),
        seeds=3,
        n_bootstraps=2000,
        cv_folds=5,
        head_grid="full",
        description="nine backbones, fine-tuning depths 1-3, 50 epochs, three "
        "learning rates, three seeds (GPU needed)",
    ),
}


def get_profile(name) -> Profile:
    """The :class:`Profile` called ``name`` (``"quick"``, ``"standard"``, ...).

    Examples
    --------
    >>> get_profile("quick").backbones
    ('efficientnet_lite0',)
    """
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r}.{did_you_mean(str(name), PROFILES)} Choose "
            f"from {', '.join(PROFILES)}."
        )
    return PROFILES[name]
