"""Training data: the validation split, mini-batches and network input.

Images are preprocessed with the backbone's :class:`~skmedtl.features.Preprocessing`
(the same code as :class:`~skmedtl.CNNFeatures`). Preprocessing is deterministic,
so when the preprocessed set fits in memory it is computed once, before the first
epoch, instead of once per epoch; the numbers are the same either way.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ..features import Preprocessing
from ..io._sequence import ImageSequence

__all__ = ["ImageInput", "TensorInput", "minibatches", "validation_split"]

#: Preprocessed images are kept in memory up to this many bytes.
PRECOMPUTE_BUDGET = 1 << 30
_CHUNK = 256


def validation_split(
    y: np.ndarray,
    fraction: float,
    rng: np.random.RandomState,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(train indices, validation indices)``, both sorted.

    Parameters
    ----------
    y : ndarray of int
        Encoded labels.
    fraction : float
        Share of the images held out; at least one image per class is.
    rng : RandomState
        Source of the split.
    groups : ndarray, optional
        Patient ids: whole patients go to one side
        (:func:`skmedtl.model_selection.train_test_split_by_group`).
    """
    n, n_classes = len(y), int(y.max()) + 1
    seed = rng.randint(np.iinfo(np.int32).max)
    if groups is not None:
        from ..model_selection import train_test_split_by_group

        train, valid = train_test_split_by_group(
            y, groups=groups, test_size=fraction, random_state=seed
        )
        missing = set(range(n_classes)) - set(y[train].tolist())
        if missing or len(valid) == 0:
            raise ValueError(
                "A patient-level validation split left a class without training "
                f"images ({len(np.unique(groups))} patients). Provide more "
                "patients, or fit without groups."
            )
        return np.sort(train), np.sort(valid)
    n_valid = min(max(math.ceil(fraction * n), n_classes), n - n_classes)
    counts = np.bincount(y, minlength=n_classes)
    if n_valid < n_classes or counts.min() < 2:
        raise ValueError(
            f"A stratified validation split needs at least 2 images of every class; "
            f"the smallest class has {int(counts.min())} of {n} images. Provide "
            "more images, or set validation_fraction=None (which also turns off "
            "early stopping and best-epoch restore)."
        )
    train, valid = train_test_split(
        np.arange(n), test_size=n_valid, stratify=y, random_state=seed
    )
    return np.sort(train), np.sort(valid)


def minibatches(
    n: int, batch_size: int, rng: np.random.RandomState | None
) -> list[np.ndarray]:
    """Index batches of one epoch, shuffled when ``rng`` is given.

    A last batch of a single sample is merged into the one before, since
    BatchNorm cannot train on one sample.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = np.concatenate(batches[-2:])
        batches.pop()
    return batches


class TensorInput:
    """Rows of a precomputed tensor (embeddings) as network input."""

    def __init__(self, values: np.ndarray | torch.Tensor, device: torch.device):
        self.values = torch.as_tensor(values, dtype=torch.float32)
        self.device = device

    def __len__(self) -> int:
        return len(self.values)

    def __call__(self, idx: np.ndarray) -> torch.Tensor:
        return self.values[torch.as_tensor(idx)].to(self.device)


class ImageInput:
    """Images as normalised ``(n, 3, h, w)`` batches on ``device``.

    Parameters
    ----------
    images : ImageSequence
        The images.
    preprocessing : Preprocessing
        The backbone's preprocessing.
    device : torch.device
        Where batches go.
    channels_last : bool, default=True
        Give batches in channels-last memory format (faster convolutions).
    """

    def __init__(
        self,
        images: ImageSequence,
        preprocessing: Preprocessing,
        device: torch.device,
        *,
        channels_last: bool = True,
    ):
        self.images = images
        self.preprocessing = preprocessing
        self.device = device
        self.channels_last = channels_last
        self._all: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    def precompute(self, budget: int = PRECOMPUTE_BUDGET) -> bool:
        """Preprocess every image once if the result fits in ``budget`` bytes."""
        h, w = self.preprocessing.input_size
        if len(self) * 3 * h * w * 4 > budget:
            return False
        chunks = [
            self._preprocess(np.arange(i, min(i + _CHUNK, len(self))), "cpu")
            for i in range(0, len(self), _CHUNK)
        ]
        self._all = torch.cat(chunks)
        return True

    def __call__(self, idx: np.ndarray) -> torch.Tensor:
        if self._all is not None:
            x = self._all[torch.as_tensor(idx)].to(self.device)
        else:
            x = self._preprocess(idx, self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _preprocess(self, idx: np.ndarray, device) -> torch.Tensor:
        batch = [self.images[int(i)] for i in idx]
        names = [self.images.describe(int(i)) for i in idx]
        if len({(b.shape, b.dtype) for b in batch}) == 1:
            batch = np.stack(batch)
        return self.preprocessing(batch, device, names)
