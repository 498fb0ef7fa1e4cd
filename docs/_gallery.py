"""sphinx-gallery helpers: the order of the examples, and PyTorch threads."""

from __future__ import annotations

import os

ORDER = [
    "plot_hybrid_breastmnist.py",
    "plot_grid_search_backbones_heads.py",
    "plot_finetune_strategies.py",
    "plot_dicom_nifti.py",
    "plot_transfer_study.py",
    "plot_results_table.py",
]


class ExampleOrder:
    """Examples in :data:`ORDER` first, in that order; any others by file name."""

    def __init__(self, src_dir: str):
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        index = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return index, filename

    def __repr__(self) -> str:  # stable across builds (sphinx-gallery caches it)
        return f"<{type(self).__name__}>"


def reset_torch_threads(gallery_conf, fname, when=None) -> None:
    """Before each example: PyTorch threads = the cores other processes leave idle.

    On a shared machine (CI runners, a laptop running tests), PyTorch threads
    that outnumber the idle cores wait for each other at every operation: a
    fine-tuning example ran 5-10x slower with 2 threads than with 1 on a busy
    2-core machine (the same effect ``TransferStudy(n_threads="auto")`` avoids).
    ``SKMEDTL_DOCS_TORCH_THREADS`` overrides the choice.
    """
    if when == "after":
        return
    import torch

    if not hasattr(_initial, "threads"):
        _initial.threads = torch.get_num_threads()
    forced = os.environ.get("SKMEDTL_DOCS_TORCH_THREADS")
    if forced:
        threads = int(forced)
    elif hasattr(os, "getloadavg"):
        idle = (os.cpu_count() or 1) - os.getloadavg()[0]
        threads = max(1, min(_initial.threads, round(idle)))
    else:
        threads = _initial.threads
    torch.set_num_threads(threads)


class _Initial:
    threads: int


_initial = _Initial()
