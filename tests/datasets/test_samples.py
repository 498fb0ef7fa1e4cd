"""The sample DICOM and NIfTI files bundled with the package."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.datasets import SAMPLE_FILES, get_sample_file
from skmedtl.io import read_image


@pytest.mark.parametrize("name", sorted(SAMPLE_FILES))
def test_sample_files_exist_and_read(name):
    path = get_sample_file(name)
    assert path.is_file()
    image = read_image(path)
    assert image.ndim == (3 if name.endswith(".nii") else 2)
    assert np.isfinite(image).all()


def test_sample_licences_are_bundled():
    folder = get_sample_file("CT_small.dcm").parent
    for licence in ("PYDICOM_LICENSE.txt", "NIBABEL_COPYING.rst", "README.md"):
        assert (folder / licence).is_file()


def test_ct_sample_is_in_hounsfield_units():
    ct = read_image(get_sample_file("CT_small.dcm"))
    assert ct.dtype == np.float32 and ct.min() < -500  # air is about -1000 HU


def test_unknown_sample_suggests_a_name():
    with pytest.raises(ValueError, match="Did you mean 'CT_small.dcm'"):
        get_sample_file("CT_smal.dcm")
