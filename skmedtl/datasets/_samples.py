"""Small real DICOM and NIfTI files shipped with skmedtl, for examples and docs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..utils._naming import did_you_mean

__all__ = ["SAMPLE_FILES", "get_sample_file"]

#: The bundled sample files: name -> description. Licences (MIT, from pydicom
#: and nibabel) are in ``skmedtl/datasets/data/samples/``.
SAMPLE_FILES = {
    "CT_small.dcm": "CT slice, 128x128 int16 with rescale to Hounsfield units "
    "(pydicom test data, from NEMA WG04 CT1_UNC; MIT)",
    "MR_small.dcm": "MR slice, 64x64 int16 (pydicom test data, from NEMA WG04 "
    "MR1_UNC; MIT)",
    "anatomical.nii": "MR volume, 33x41x25 int16, LAS orientation (nibabel test "
    "data; MIT)",
}


def get_sample_file(name: str) -> Path:
    """The path of a small real medical file bundled with skmedtl.

    Parameters
    ----------
    name : {"CT_small.dcm", "MR_small.dcm", "anatomical.nii"}
        See :data:`SAMPLE_FILES`. The DICOM files come from pydicom's test data
        and the NIfTI volume from nibabel's, both under the MIT licence.

    Returns
    -------
    pathlib.Path
        The file inside the installed package; read it with
        :func:`skmedtl.io.read_image` (DICOM needs ``pip install
        "skmedtl[dicom]"``, NIfTI ``pip install "skmedtl[nifti]"``).

    Raises
    ------
    ValueError
        An unknown name.

    Examples
    --------
    >>> from skmedtl.datasets import get_sample_file
    >>> get_sample_file("CT_small.dcm").name
    'CT_small.dcm'
    """
    if name not in SAMPLE_FILES:
        raise ValueError(
            f"Unknown sample file {name!r}.{did_you_mean(str(name), SAMPLE_FILES)} "
            f"Choose from {', '.join(SAMPLE_FILES)}."
        )
    path = Path(str(resources.files("skmedtl.datasets") / "data" / "samples" / name))
    if not path.is_file():
        raise FileNotFoundError(
            f"The sample file {path} is missing from this installation of skmedtl; "
            "reinstall it (pip install --force-reinstall skmedtl)."
        )
    return path
