"""Copy a stratified random subset of the Kermany chest X-rays into a new folder.

``python benchmarks/protocol/make_kermany_subset.py OUT`` copies 100 normal and 300
pneumonia training images and 60 normal and 100 pneumonia test images (the
official split, its class proportions roughly kept) from
``/work/shared/data/chest_xray_kermany_224`` (CC BY 4.0, Kermany et al. 2018) into
``OUT/train/<class>/`` and ``OUT/test/<class>/``; seed 0. ``OUT`` must not exist.
Some patient ids (``GROUPS``, the study's ``--groups``) occur in both official
splits; training images of a patient drawn for the test subset are left out, so
that the subset's splits are patient-disjoint.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np

SOURCE = Path("/work/shared/data/chest_xray_kermany_224")
#: Test first: its patients are then kept out of the training subset.
COUNTS = {
    ("test", "NORMAL"): 60,
    ("test", "PNEUMONIA"): 100,
    ("train", "NORMAL"): 100,
    ("train", "PNEUMONIA"): 300,
}
#: The patient id in a file name (pass it to the study as --groups).
GROUPS = r"(person\d+|NORMAL2-IM-\d+|IM-\d+)"


def _patient(path: Path) -> str:
    return re.search(GROUPS, path.name).group(1)


def main(out: str) -> None:
    out_dir = Path(out)
    if out_dir.exists():
        raise SystemExit(f"{out_dir} exists; give a new folder.")
    rng = np.random.default_rng(0)
    test_patients = set()
    for (split, label), n in COUNTS.items():
        files = sorted((SOURCE / split / label).glob("*.jpeg"))
        if split == "train":
            files = [f for f in files if _patient(f) not in test_patients]
        chosen = rng.choice(len(files), size=n, replace=False)
        target = out_dir / split / label
        target.mkdir(parents=True)
        for i in sorted(chosen):
            shutil.copy2(files[i], target / files[i].name)
            if split == "test":
                test_patients.add(_patient(files[i]))
    print(f"{sum(COUNTS.values())} images in {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1])
