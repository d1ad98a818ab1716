"""The clinical exports of a run's masks, in one call: ``masks.nii.gz`` for any input (with the
source's spacing and frame time) and ``seg.dcm`` for a DICOM input, plus the manifest entry
that says what was written, in which units, for which (hashed) study.

>>> entry = write_mask_exports(out_dir, frames, labels, {1: "LV", 2: "LA"})  # doctest: +SKIP
>>> manifest["source"] = entry["source"]; manifest["exports"] = entry["exports"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from samurai_common.source_info import SourceInfo

NIFTI_NAME = "masks.nii.gz"
SEG_NAME = "seg.dcm"


def source_info_of(frames, fallback: SourceInfo | None = None) -> SourceInfo:
    """The :class:`SourceInfo` of a frame source: a DICOM's own, else ``fallback`` (from
    ``--spacing`` or a CAMUS header), else unknown."""
    info = getattr(frames, "info", None)
    if isinstance(info, SourceInfo):
        return info
    return fallback or SourceInfo()


class _ObjectMask:
    """One object's boolean masks, computed frame by frame from the label maps (a long cine's
    four chambers would otherwise cost four more copies of the labels)."""

    def __init__(self, labels: np.ndarray, obj: int):
        self.labels, self.obj, self.shape = labels, obj, labels.shape

    def __getitem__(self, t: int) -> np.ndarray:
        return self.labels[t] == self.obj


def write_mask_exports(
    out_dir: str | os.PathLike,
    frames,
    labels: np.ndarray,
    names: Mapping[int, str] | None = None,
    info: SourceInfo | None = None,
) -> dict[str, Any]:
    """Write ``masks.nii.gz`` (always) and ``seg.dcm`` (DICOM sources) into ``out_dir``.

    Args:
      frames: the run's frame source (a :class:`samurai_common.dicom.DicomFrames` gets a SEG).
      labels: ``uint8 [T, H, W]`` label map per frame (object ids).
      names: object id -> chamber name ("LV", "LA", "RV", "RA"); ids without a chamber name are
        left out of the SEG (its segments need a SNOMED CT code) and listed in the entry.
      info: the source's clinical info when ``frames`` is not a DICOM (see :func:`source_info_of`).

    Returns ``{"source": ..., "exports": {...}}`` for ``manifest.json`` (no identifying value).
    """
    from samurai.dicom.privacy import manifest_source
    from samurai.nifti import write_masks_nifti

    out_dir = Path(out_dir)
    labels = np.asarray(labels)
    info = source_info_of(frames, info)
    write_masks_nifti(out_dir / NIFTI_NAME, labels, info.spacing, info.frame_time_ms)
    exports: dict[str, Any] = {"nifti": NIFTI_NAME}
    path = getattr(frames, "path", None)
    if hasattr(frames, "sop_instance_uid") and path is not None:
        from samurai.dicom.seg import CHAMBER_CODES, write_segmentation

        names = dict(names or {})
        chambers = {name: _ObjectMask(labels, obj) for obj, name in sorted(names.items())
                    if name in CHAMBER_CODES}
        left_out = sorted(int(o) for o in np.unique(labels) if o and names.get(int(o)) not in CHAMBER_CODES)
        if chambers:
            write_segmentation(out_dir / SEG_NAME, path, chambers)
            exports["seg"] = SEG_NAME
        exports["seg_objects_left_out"] = left_out
    kind = "DICOM" if hasattr(frames, "sop_instance_uid") else "video"
    return {"source": manifest_source(info, len(labels), kind=kind), "exports": exports}


__all__ = ["NIFTI_NAME", "SEG_NAME", "source_info_of", "write_mask_exports"]
