"""Masks out as NIfTI: a label video with its pixel spacing and frame time, for any input.

Layout: a 4D NIfTI-1 image of shape ``(W, H, 1, T)`` (x = column, y = row, one slice, time),
uint8 labels (0 background, the run's object ids otherwise). ``pixdim`` holds the column and
row spacing in mm and the frame time in ms (``xyzt_units`` mm and msec), and the affine is
``diag(sx_mm, sy_mm, 1, 1)``: voxel (i, j) is column i, row j of the video with no flip, so
the first row has the smallest y. Ultrasound has no patient coordinates; the axes are the
image's own, as in the CAMUS files. SimpleITK reads it back as an array ``[T, 1, H, W]``;
nibabel as ``(W, H, 1, T)``. With an unknown spacing pixdim is 1 mm and the header's
description says "spacing unknown (pixels)".

>>> write_masks_nifti("masks.nii.gz", labels, spacing=(0.03, 0.03), frame_time_ms=20.0)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from samurai_common.source_info import Spacing


def write_masks_nifti(
    path: str | os.PathLike,
    labels: np.ndarray,
    spacing: Spacing | None = None,
    frame_time_ms: float | None = None,
) -> Path:
    """Write a ``uint8 [T, H, W]`` label video to ``path`` (``.nii.gz``) atomically.

    Args:
      labels: one label map per frame.
      spacing: ``(sx_cm, sy_cm)`` per pixel or None (unknown: written as 1 mm and said so).
      frame_time_ms: time between frames, or None (written as 1).
    """
    import nibabel as nib

    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be [T, H, W], got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("labels must be in 0..255 to be written as uint8")
    data = np.ascontiguousarray(labels.astype(np.uint8).transpose(2, 1, 0)[:, :, None, :])
    sx_mm, sy_mm = (10.0 * spacing[0], 10.0 * spacing[1]) if spacing else (1.0, 1.0)
    affine = np.diag([sx_mm, sy_mm, 1.0, 1.0])
    image = nib.Nifti1Image(data, affine)
    header = image.header
    header.set_xyzt_units("mm", "msec")
    header["pixdim"][4] = float(frame_time_ms) if frame_time_ms else 1.0
    header["descrip"] = b"samurai masks" if spacing else b"samurai masks; spacing unknown (pixels)"
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{''.join(path.suffixes)}")
    nib.save(image, str(tmp))
    os.replace(tmp, path)
    return path


def read_masks_nifti(path: str | os.PathLike) -> tuple[np.ndarray, Spacing | None, float | None]:
    """The labels ``uint8 [T, H, W]``, spacing ``(sx_cm, sy_cm)`` (None when written unknown)
    and frame time (ms) of a file written by :func:`write_masks_nifti`."""
    import nibabel as nib

    image = nib.load(str(path))
    data = np.asarray(image.dataobj)[:, :, 0, :].transpose(2, 1, 0)
    pixdim = image.header["pixdim"]
    known = b"spacing unknown" not in bytes(image.header["descrip"])
    spacing = (float(pixdim[1]) / 10.0, float(pixdim[2]) / 10.0) if known else None
    return data.astype(np.uint8), spacing, float(pixdim[4])


__all__ = ["read_masks_nifti", "write_masks_nifti"]
