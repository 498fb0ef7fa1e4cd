"""Planted-signal data, a tiny CNN whose evidence is local, trained models.

The class of each synthetic image is decided by a bright patch at a
class-specific position (noise elsewhere), so a faithful saliency map must peak
inside the patch. The backbone ``explain_test_cnn`` (registered here, random
weights only) gives a 2 x 2 feature map at 32 px whose cells each see one
quadrant: the patch sits in its class's quadrant, so a faithful map's maximum
lies in the patch. (A network whose cells see the whole image can, and does,
decide a position-only task from context around the patch instead.)
"""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

TEST_CNN = "explain_test_cnn"
#: Patch top-left corners per class in a 32 x 32 image (one quadrant each).
CORNERS = [(2, 2), (2, 20), (20, 2), (20, 20)]
PATCH = 10


class TinyCNN(nn.Module):
    """A small CNN: output stride 16 (2 x 2 at 32 px), receptive field 16 px.

    Each feature cell sees its own quadrant only, and the zero padding at the
    quadrant's outer sides tells it which quadrant it is: the evidence for a
    patch's position lies in the patch's own cell.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3):
        super().__init__()

        def block(cin, cout, k):
            return nn.Sequential(
                nn.Conv2d(cin, cout, k, 1, k // 2, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.b1 = block(in_chans, 16, 3)
        self.b2 = block(16, 32, 3)
        self.b3 = block(32, 64, 1)
        self.b4 = block(64, 64, 1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.b4(self.b3(self.b2(self.b1(x))))
        return self.fc(x.mean(dim=(2, 3)))


def _register() -> None:
    from skmedtl.backbones import list_backbones, register_backbone
    from skmedtl.backbones._adapters import SequentialAdapter, children_groups
    from skmedtl.backbones._spec import BackboneSpec, DataConfig

    if TEST_CNN in list_backbones():
        return
    register_backbone(
        BackboneSpec(
            name=TEST_CNN,
            family="test",
            year=2026,
            source="builtin",
            builder=TinyCNN,
            adapter=SequentialAdapter(
                children_groups({f"b{i}": [f"b{i}"] for i in range(1, 5)}),
                head=["fc"],
            ),
            weights={},
            default_data_config=DataConfig(
                input_size=(32, 32),
                interpolation="bilinear",
                mean=(0.5,) * 3,
                std=(0.5,) * 3,
                crop_pct=1.0,
            ),
        )
    )


_register()

#: What the CAM geometry checks measured (``test_cam_geometry``): per family,
#: ``(family, mean offset (row, col) in cells, largest offset on either axis in
#: cells, the same in pixels of the original image, interior cells)``. Reported
#: at the end of the run.
GEOMETRY_OFFSETS: list[tuple] = []


def pytest_terminal_summary(terminalreporter):
    """The largest remaining offset of each family the geometry test probed."""
    if not GEOMETRY_OFFSETS:
        return
    terminalreporter.section("CAM geometry: offset of each cell from where it looks")
    for family, mean, largest, largest_px, n in GEOMETRY_OFFSETS:
        terminalreporter.write_line(
            f"{family}: largest {largest:.3f} cells ({largest_px:.1f} px), mean "
            f"({mean[0]:+.3f}, {mean[1]:+.3f}) cells, over {n} interior cells"
        )


def _pattern(k: int, size: int, rng) -> np.ndarray:
    """A bright patch: the same for every class (only its position differs)."""
    return rng.integers(200, 256, (size, size)).astype(np.uint8)


def planted(
    n: int, seed: int, *, size=(32, 32), corners=CORNERS, patch=PATCH, jitter: int = 1
):
    """Images ``(n, h, w)`` uint8, labels, and each patch's box ``(r, c, h, w)``.

    Class ``k`` has a bright patch at ``corners[k]`` (moved by up to ``jitter``
    pixels); everything else is uniform noise of lower intensity.
    """
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 110, (n, *size)).astype(np.uint8)
    y = np.arange(n) % len(corners)
    rng.shuffle(y)
    boxes = []
    for i in range(n):
        r, c = corners[y[i]]
        r = int(np.clip(r + rng.integers(-jitter, jitter + 1), 0, size[0] - patch))
        c = int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, size[1] - patch))
        X[i, r : r + patch, c : c + patch] = _pattern(y[i], patch, rng)
        boxes.append((r, c, patch, patch))
    return X, y, boxes


def pointing_hits(maps, boxes) -> np.ndarray:
    """Whether each map's maximum lies inside its patch (the pointing game)."""
    hits = []
    for m, (r, c, ph, pw) in zip(maps, boxes, strict=True):
        # The maximum; on a plateau (the border of an upsampled map), its centre.
        rows, cols = np.nonzero(m >= m.max() - 1e-6)
        i, j = rows.mean(), cols.mean()
        hits.append(r <= i < r + ph and c <= j < c + pw)
    return np.asarray(hits)


def fit_network(X, y, **params):
    """The tiny CNN trained from scratch (about a second on a CPU)."""
    from skmedtl.finetune import FineTuneClassifier

    defaults = dict(
        weights=None,
        strategy="full",
        max_epochs=12,
        lr=3e-3,
        batch_size=16,
        validation_fraction=None,
        early_stopping=False,
        random_state=0,
        verbose=0,
    )
    return FineTuneClassifier(TEST_CNN, **{**defaults, **params}).fit(X, y)


@pytest.fixture(scope="package")
def planted_data():
    """160 training and 40 test images, four classes."""
    return planted(160, 0), planted(40, 1)


@pytest.fixture(scope="package")
def finetuned(planted_data):
    """The tiny CNN trained on the planted images."""
    (X, y, _), _ = planted_data
    return fit_network(X, y)


@pytest.fixture(scope="package")
def transferred_weights(finetuned, tmp_path_factory):
    """The fine-tuned backbone saved as a weights file (for hybrids)."""
    import torch

    model = TinyCNN()
    missing = model.load_state_dict(
        finetuned.model_.backbone.state_dict(), strict=False
    )
    assert set(missing.missing_keys) == {"fc.weight", "fc.bias"}
    path = tmp_path_factory.mktemp("weights") / "tiny_cnn.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="package")
def hybrid(planted_data, transferred_weights):
    """An SVM on frozen features of the transferred backbone (no gradient)."""
    from skmedtl import make_hybrid

    (X, y, _), _ = planted_data
    return make_hybrid(
        TEST_CNN,
        "svm",
        weights=str(transferred_weights),
        random_state=0,
        verbose=0,
    ).fit(X, y)
