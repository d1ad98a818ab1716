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
    labels,
    spacing: Spacing | None = None,
    frame_time_ms: float | None = None,
) -> Path:
    """Write a label video to ``path`` (``.nii.gz``) atomically, one frame at a time.

    Args:
      labels: one ``uint8 [H, W]`` label map per frame: a ``[T, H, W]`` array, or any sequence
        of frames with ``len`` and indexing (e.g. read from PNG files on demand), so that a long
        cine's labels are never all in memory.
      spacing: ``(sx_cm, sy_cm)`` per pixel or None (unknown: written as 1 mm and said so).
      frame_time_ms: time between frames, or None (written as 1).
    """
    import gzip

    import nibabel as nib

    if isinstance(labels, np.ndarray) and labels.ndim != 3:
        raise ValueError(f"labels must be [T, H, W], got shape {labels.shape}")
    n = len(labels)
    first = _label_frame(labels[0]) if n else np.zeros((0, 0), np.uint8)
    height, width = first.shape
    sx_mm, sy_mm = (10.0 * spacing[0], 10.0 * spacing[1]) if spacing else (1.0, 1.0)
    affine = np.diag([sx_mm, sy_mm, 1.0, 1.0])
    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_shape((width, height, 1, n))
    header.set_zooms((sx_mm, sy_mm, 1.0, float(frame_time_ms) if frame_time_ms else 1.0))
    header.set_xyzt_units("mm", "msec")
    header["descrip"] = b"samurai masks" if spacing else b"samurai masks; spacing unknown (pixels)"
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_slope_inter(1.0, 0.0)
    header.set_data_offset(VOX_OFFSET)
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{''.join(path.suffixes)}")
    # The voxels of (W, H, 1, T) in NIfTI's (Fortran) order are the [T, H, W] frames one after
    # the other in C order: each frame's bytes follow the header as it is produced.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        header.write_to(gz)  # the 348-byte header and the 4 bytes saying "no extensions"
        if gz.tell() != VOX_OFFSET:
            raise AssertionError(f"NIfTI header of {gz.tell()} bytes, not {VOX_OFFSET}")
        for t in range(n):
            frame = first if t == 0 else _label_frame(labels[t])
            if frame.shape != (height, width):
                raise ValueError(f"label frame {t} is {frame.shape}, frame 0 {(height, width)}")
            gz.write(np.ascontiguousarray(frame).tobytes())
    os.replace(tmp, path)
    return path


VOX_OFFSET = 352  # NIfTI-1 single file: the data follow the header and its extension flags


def _label_frame(frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"a label frame must be [H, W], got shape {frame.shape}")
    if frame.size and (frame.min() < 0 or frame.max() > 255):
        raise ValueError("labels must be in 0..255 to be written as uint8")
    return frame.astype(np.uint8, copy=False)


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
