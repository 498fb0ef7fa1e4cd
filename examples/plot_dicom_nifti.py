"""
DICOM and NIfTI inputs: windows, 16-bit values and 2.5-D slices
===============================================================

Medical images are not 8-bit photographs. A CT slice stores Hounsfield units
after a rescale, an MR slice 12 to 16 bits, a NIfTI file a whole volume.
skmedtl reads them without ever cutting them to 8 bits
(:func:`skmedtl.io.read_image`), maps values to ``[0, 1]`` with an explicit
intensity policy (a CT window, min-max, percentiles), and turns volumes into
2-D or 2.5-D slices that an ImageNet CNN can embed.

The three files used here ship with skmedtl
(:func:`skmedtl.datasets.get_sample_file`): two DICOM slices from pydicom's
test data and an MR volume from nibabel's, all under the MIT licence. Reading
them needs ``pip install "skmedtl[dicom,nifti]"``. Runs in a few seconds.
"""

# %%
# A CT slice in Hounsfield units
# ------------------------------
# ``read_image`` applies the DICOM modality LUT (rescale slope and intercept),
# so CT values are Hounsfield units in ``float32``: air about -1000, water 0,
# bone several hundred.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from skmedtl import CNNFeatures, VolumeFeatures
from skmedtl.datasets import get_sample_file
from skmedtl.io import (
    CT_WINDOWS,
    ImageLoader,
    read_image,
    volume_to_slices,
)

ct_path = get_sample_file("CT_small.dcm")
hu = read_image(ct_path)
print(f"{ct_path.name}: {hu.shape} {hu.dtype}, {hu.min():.0f} to {hu.max():.0f} HU")

# %%
# The intensity policy decides what the network sees. A CT *window*
# ``(center, width)`` maps a range of Hounsfield units to ``[0, 1]`` and clips
# the rest; ``"minmax"`` keeps the whole range. The presets are in
# :data:`skmedtl.io.CT_WINDOWS`.
policies = ["minmax", "soft_tissue", "bone"]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
for ax, policy in zip(axes, policies, strict=True):
    ax.imshow(read_image(ct_path, intensity=policy), cmap="gray", vmin=0, vmax=1)
    window = CT_WINDOWS.get(policy)
    ax.set_title(
        policy
        + (
            f"\ncenter {window[0]:g}, width {window[1]:g}"
            if window
            else "\nwhole range"
        ),
        fontsize=9,
    )
    ax.axis("off")
fig.tight_layout()

# %%
# An MR slice keeps its bit depth
# -------------------------------
# MR has no absolute scale. The raw integers come back as stored (``int16``
# here, never cast to ``uint8``); :class:`~skmedtl.CNNFeatures` scales each
# 16-bit or signed image by its own range (``intensity="auto"``), so the
# full range reaches the network.
mr = read_image(get_sample_file("MR_small.dcm"))
print(f"MR_small.dcm: {mr.shape} {mr.dtype}, {mr.min()} to {mr.max()}")

# %%
# Files in a pipeline
# -------------------
# :class:`~skmedtl.io.ImageLoader` reads paths inside a scikit-learn pipeline,
# so ``X`` can stay a list of file names (and ``GridSearchCV`` can tune the
# window as a hyper-parameter: ``imageloader__intensity=["lung", "soft_tissue"]``).
# The images of a list may have different sizes.
paths = [get_sample_file("CT_small.dcm"), get_sample_file("MR_small.dcm")]
embed = make_pipeline(
    ImageLoader(intensity="minmax"),
    CNNFeatures("efficientnet_lite0", input_size=96, verbose=0),
)
embeddings = embed.fit_transform(paths)
print("embeddings:", embeddings.shape, embeddings.dtype)

# %%
# A NIfTI volume: 2-D and 2.5-D slices
# ------------------------------------
# A NIfTI volume is reoriented to the canonical RAS+ orientation, so its axes
# are ``(x, y, z)`` and axial slices lie along the last axis.
# :func:`~skmedtl.io.volume_to_slices` cuts it into greyscale slices
# (``mode="2d"``), or into *2.5-D* images whose three channels hold slices
# ``i - 1``, ``i`` and ``i + 1``: the three input channels of an ImageNet CNN
# then carry real 3-D context instead of three copies of one slice.
nii_path = get_sample_file("anatomical.nii")
volume = read_image(nii_path, intensity="minmax")  # one scale for the volume
print(f"{nii_path.name}: {volume.shape} {volume.dtype}")

slices, index = volume_to_slices(volume, mode="2d", step=4, return_indices=True)
rgb = volume_to_slices(volume, mode="2.5d")
print("2-D slices:", slices.shape, " 2.5-D slices:", rgb.shape)

fig, axes = plt.subplots(1, len(slices) + 1, figsize=(11, 2.4))
for ax, image, z in zip(axes, slices, index, strict=False):
    ax.imshow(np.rot90(image), cmap="gray")
    ax.set_title(f"z = {z}", fontsize=9)
    ax.axis("off")
# A 2.5-D image shown as colour: where neighbouring slices differ, the
# channels differ and the image is no longer grey.
middle = len(rgb) // 2
axes[-1].imshow(np.rot90(rgb[middle]))
axes[-1].set_title(f"2.5-D, z = {middle}", fontsize=9)
axes[-1].axis("off")
fig.tight_layout()

# %%
# One embedding per volume
# ------------------------
# :class:`~skmedtl.VolumeFeatures` does the slicing, embeds every slice with
# a 2-D extractor and pools the slice embeddings into one vector per volume. It
# takes volumes (arrays or paths) with one label each, so cross-validation
# splits volumes, never the slices of one patient.
volumes = VolumeFeatures(
    CNNFeatures("efficientnet_lite0", input_size=64, verbose=0),
    mode="2.5d",
    step=2,
    intensity="minmax",
)
print("volume embedding:", volumes.fit_transform([nii_path]).shape)
