"""The demo job: the transfer-learning study on the bundled BreastMNIST, offline."""

from __future__ import annotations

import os

__all__ = ["make_demo_study"]


def make_demo_study(
    out_dir: str | os.PathLike = "skmedtl-demo",
    *,
    backbone: str = "efficientnet_lite0",
    approaches: list[str] | None = None,
    device: str = "auto",
    batch_size: int = 32,
    verbose: int = 1,
):
    """The study ``skmedtl demo`` runs: BreastMNIST, quick profile, one backbone.

    Every approach of the review (Kim et al. 2022) on the official BreastMNIST
    split (546 / 78 / 156 images), with the EfficientNet-Lite0 ImageNet weights
    that install with skmedtl, so it needs no network.

    Parameters
    ----------
    out_dir : str or path-like, default="skmedtl-demo"
        Where the report, tables and figures go (resumable).
    backbone : str, default="efficientnet_lite0"
    approaches : list of str, optional
        A subset of the quick profile's approaches.
    device : str, default="auto"
    batch_size : int, default=32
    verbose : int, default=1

    Returns
    -------
    TransferStudy
    """
    from .study import TransferStudy

    return TransferStudy(
        "breastmnist",
        out_dir,
        profile="quick",
        backbones=[backbone],
        approaches=approaches,
        device=device,
        batch_size=batch_size,
        verbose=verbose,
    )
