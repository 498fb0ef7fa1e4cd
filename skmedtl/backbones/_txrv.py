"""``"txrv:<weights>"``: torchxrayvision's chest X-ray networks.

``"txrv:densenet121-res224-all"`` (and the other ``densenet121-res224-*``
weights) and ``"txrv:resnet50-res512-all"``. The networks take one channel
scaled to ``[-1024, 1024]``: skmedtl's preprocessing maps values in ``[0, 1]``
there with mean 0.5 and std 1/2048, and averages colour images to grey.
Weights are torchxrayvision's own files, kept in its cache
(``~/.torchxrayvision/models_data``, or ``$SKMEDTL_TXRV_CACHE``). Requires
``pip install "skmedtl[txrv]"``.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from torch import nn

from ..exceptions import UnknownBackboneError, WeightsUnavailableError
from ..utils._naming import did_you_mean
from ._adapters import SequentialAdapter, children_groups
from ._registry import NameScheme, register_scheme
from ._spec import BackboneSpec, DataConfig, WeightsSpec
from ._torchvision import DENSENET_ADAPTER

logger = logging.getLogger(__name__)

#: [0, 1] -> [-1024, 1024], torchxrayvision's ``normalize(img, maxval)``.
TXRV_MEAN = (0.5,)
TXRV_STD = (1 / 2048,)

# torchxrayvision's DenseNet has torchvision's module names; like its features2(),
# the adapter applies the final ReLU.
_DENSENET = DENSENET_ADAPTER
_RESNET = SequentialAdapter(
    children_groups(
        {
            "stem": ["model.conv1", "model.bn1", "model.relu", "model.maxpool"],
            "layer1": ["model.layer1"],
            "layer2": ["model.layer2"],
            "layer3": ["model.layer3"],
            "layer4": ["model.layer4"],
        }
    ),
    head=["model.fc"],
)


def cache_dir() -> Path:
    """Where torchxrayvision's weights files are looked for."""
    if os.environ.get("SKMEDTL_TXRV_CACHE"):
        return Path(os.environ["SKMEDTL_TXRV_CACHE"]).expanduser()
    return Path(
        os.path.expanduser(os.path.join("~", ".torchxrayvision", "models_data"))
    )


class _XrvResNet(nn.Module):
    """torchxrayvision's ResNet layout (``.model``: a one-channel torchvision
    ResNet), buildable without its weights."""

    def __init__(self, depth: int, n_classes: int):
        super().__init__()
        import torchvision

        self.model = getattr(torchvision.models, f"resnet{depth}")(
            num_classes=n_classes, weights=None
        )
        self.model.conv1 = nn.Conv2d(
            1, 64, kernel_size=7, stride=2, padding=3, bias=False
        )


def _build_densenet(n_classes: int) -> nn.Module:
    import torchxrayvision as xrv

    return xrv.models.DenseNet(weights=None, num_classes=n_classes, in_channels=1)


def resolve(weights: str) -> BackboneSpec:
    """The spec of ``"txrv:<weights>"``."""
    import torchxrayvision as xrv

    names = [k for k in xrv.models.model_urls if k.startswith(("densenet", "resnet"))]
    if weights not in names:
        raise UnknownBackboneError(
            f"Unknown torchxrayvision weights {weights!r}."
            f"{did_you_mean(weights, names)} Available: {', '.join(names)}."
        )
    info = xrv.models.model_urls[weights]
    n_classes = len(info["labels"])
    size = int(info.get("input_resolution", 224))
    data = DataConfig(
        input_size=(size, size),
        interpolation="bilinear",
        mean=TXRV_MEAN,
        std=TXRV_STD,
        crop_pct=1.0,
        in_chans=1,
    )
    if weights.startswith("densenet"):
        builder = functools.partial(_build_densenet, n_classes)
        adapter, family = _DENSENET, "DenseNet (torchxrayvision)"
    else:
        depth = int(weights[len("resnet") :].split("-")[0])
        builder = functools.partial(_XrvResNet, depth, n_classes)
        adapter, family = _RESNET, "ResNet (torchxrayvision)"
    spec_weights = WeightsSpec(
        tag="pretrained",
        source="txrv",
        identifier=weights,
        data_config=data,
        license="Apache-2.0 (torchxrayvision); the training data sets' terms apply",
        url=info["weights_url"],
        loader=_load,
    )
    return BackboneSpec(
        name="txrv:" + weights,
        family=family,
        year=2022,  # Cohen et al., MIDL 2022
        source="torchxrayvision",
        builder=builder,
        adapter=adapter,
        weights={"pretrained": spec_weights},
        default_data_config=data,
    )


def _load(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    import torch
    import torchxrayvision as xrv

    from ._hub import _can_reach

    folder = cache_dir()
    path = folder / os.path.basename(w.url)
    if not path.is_file():
        if not _can_reach(w.url):
            raise WeightsUnavailableError(
                f"The weights of {spec.name!r} are not in the torchxrayvision cache "
                "and cannot be downloaded (no network, or SKMEDTL_OFFLINE is set). "
                f"Download {w.url} on a machine with internet access and place it at "
                f"{path} (the folder is ~/.torchxrayvision/models_data, or "
                "$SKMEDTL_TXRV_CACHE)."
            )
        folder.mkdir(parents=True, exist_ok=True)
    logger.info("Loading %s from %s", spec.name, path)
    if w.identifier.startswith("densenet"):
        # torchxrayvision's own loader (its files are pickled models; it
        # downloads a missing one into cache_dir).
        return xrv.models.DenseNet(weights=w.identifier, cache_dir=str(folder) + "/")
    if not path.is_file():
        xrv.models.get_weights(w.identifier, cache_dir=str(folder) + "/")
    model = spec.builder()
    model.model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


register_scheme(
    NameScheme(
        prefix="txrv:",
        resolver=resolve,
        library="torchxrayvision",
        extra="txrv",
        example="txrv:densenet121-res224-all",
        description="a torchxrayvision chest X-ray network (one channel, "
        "[-1024, 1024])",
    )
)
