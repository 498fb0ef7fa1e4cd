"""FineTuneClassifier.fit(validation_mask=...): an explicit validation set."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from skmedtl.finetune import FineTuneClassifier

from .conftest import stripes


def _clf(**params):
    defaults = dict(
        strategy="full",
        weights=None,
        input_size=32,
        max_epochs=4,
        batch_size=16,
        lr=1e-2,
        random_state=0,
        verbose=0,
        device="cpu",
    )
    defaults.update(params)
    return FineTuneClassifier("lenet5", **defaults)


def test_validation_mask_is_the_validation_set():
    X, y = stripes(48, size=32)
    mask = np.zeros(48, bool)
    mask[-16:] = True
    clf = _clf().fit(X, y, validation_mask=mask)
    losses = [e["valid_loss"] for e in clf.history_ if e.get("valid_loss") is not None]
    assert len(losses) == clf.n_epochs_
    # The restored best epoch's loss is the log loss of the final model on
    # exactly the masked images.
    proba = clf.predict_proba(X[mask])
    assert log_loss(y[mask], proba, labels=[0, 1]) == pytest.approx(
        min(losses), rel=1e-3, abs=1e-4
    )


def test_validation_mask_errors():
    X, y = stripes(16, size=32)
    with pytest.raises(ValueError, match="boolean array with one entry per image"):
        _clf().fit(X, y, validation_mask=np.ones(5, bool))
    with pytest.raises(ValueError, match="must mark some images"):
        _clf().fit(X, y, validation_mask=np.ones(16, bool))
    with pytest.raises(ValueError, match="leaves a class out"):
        _clf().fit(X, y, validation_mask=y == 1)
