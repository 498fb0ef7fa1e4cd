"""The transfer-learning study: backbones x approaches, with cost, in one report.

:class:`TransferStudy` runs the comparison the review of Kim et al. (BMC Medical
Imaging, 2022) recommends on a data set: every backbone x approach of a grid
(feature extractor, feature-extractor hybrids, fine-tuning, fine-tuning from
scratch, training from random weights), scored on one test set with bootstrap
confidence intervals, next to its cost (time, memory, parameters). It resumes
after an interruption and writes a Markdown and an HTML report with a
recommendation and plots. ``skmedtl study`` is its command line.

The names are imported on first use, so that the command line's start-up does
not load scikit-learn and PyTorch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "APPROACHES": "._approaches",
    "Approach": "._approaches",
    "parse_approach": "._approaches",
    "BUNDLED": "._data",
    "CellExecutor": "._run",
    "CellTask": "._run",
    "LocalExecutor": "._run",
    "StudyDataset": "._data",
    "load_study_dataset": "._data",
    "COSTS": "._choices",
    "PROFILES": "._profiles",
    "Profile": "._profiles",
    "get_profile": "._profiles",
    "MultiLabelStudyModel": "._model",
    "StudyModel": "._model",
    "StudyResults": "._results",
    "TransferStudy": "._study",
    "recommend": "._summary",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skmedtl.study' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
