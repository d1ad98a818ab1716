"""The clinical exports of a run's masks, in one call: ``masks.nii.gz`` for any input (with the
source's spacing and frame time) and ``seg.dcm`` for a DICOM input, plus the manifest entry
that says what was written, in which units, for which (hashed) study.

>>> entry = write_mask_exports(out_dir, frames, labels, {1: "LV", 2: "LA"})  # doctest: +SKIP
>>> manifest["source"] = entry["source"]; manifest["exports"] = entry["exports"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


class PngLabels:
    """The label maps of a run's ``masks/NNNNN.png`` as a ``[T, H, W]`` sequence read one frame
    at a time (the exports of a long cine never hold all its labels)."""

    def __init__(self, folder: str | os.PathLike, n_frames: int, height: int, width: int):
        self.folder = Path(folder)
        self.shape = (int(n_frames), int(height), int(width))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, t: int) -> np.ndarray:
        from samurai.formats import read_mask_png

        return read_mask_png(self.folder / f"{t:05d}.png")


class _ObjectMask:
    """One object's boolean masks, computed frame by frame from the label maps (a long cine's
    four chambers would otherwise cost four more copies of the labels)."""

    def __init__(self, labels, obj: int):
        self.labels, self.obj, self.shape = labels, obj, tuple(labels.shape)

    def __getitem__(self, t: int) -> np.ndarray:
        return self.labels[t] == self.obj


def segment_labels(objects, names: Mapping | None) -> dict[int, str]:
    """Object id -> SEG segment label, in id order: a chamber's name upper-cased ("lv" is "LV"),
    another name as given, "object N" for an unnamed object; a label two objects share gets its
    object's id appended, so each segment is told apart."""
    from samurai.dicom.seg import CHAMBER_CODES

    names = {int(k): str(v).strip() for k, v in (names or {}).items()}
    out = {}
    for obj in sorted(int(o) for o in objects):
        name = names.get(obj) or f"object {obj}"
        out[obj] = name.upper() if name.upper() in CHAMBER_CODES else name
    taken = list(out.values())
    return {
        obj: label if taken.count(label) == 1 else f"{label} (object {obj})" for obj, label in out.items()
    }


def write_mask_exports(
    out_dir: str | os.PathLike,
    frames,
    labels,
    names: Mapping[int, str] | None = None,
    info: SourceInfo | None = None,
    objects: list[int] | None = None,
) -> dict[str, Any]:
    """Write ``masks.nii.gz`` (always) and ``seg.dcm`` (DICOM sources) into ``out_dir``.

    Args:
      frames: the run's frame source (a :class:`samurai_common.dicom.DicomFrames` gets a SEG).
      labels: ``uint8 [T, H, W]`` label map per frame (object ids): an array, or a sequence
        read a frame at a time with a ``shape`` (:class:`PngLabels`).
      names: object id -> structure name ("LV", "LA", "RV", "RA", "myocardium", anything):
        each object becomes one SEG segment labelled with its name (chambers upper-cased) or
        "object N" when it has none; :func:`samurai.dicom.seg.segment_type` codes it. The entry
        lists ``seg_segments``: object id -> segment label.
      info: the source's clinical info when ``frames`` is not a DICOM (see :func:`source_info_of`).
      objects: the run's object ids (default: those found in ``labels``, an array).

    Returns ``{"source": ..., "exports": {...}}`` for ``manifest.json`` (no identifying value).
    """
    from samurai.dicom.privacy import manifest_source
    from samurai.nifti import write_masks_nifti

    out_dir = Path(out_dir)
    if not hasattr(labels, "shape"):
        labels = np.asarray(labels)
    info = source_info_of(frames, info)
    write_masks_nifti(out_dir / NIFTI_NAME, labels, info.spacing, info.frame_time_ms)
    exports: dict[str, Any] = {"nifti": NIFTI_NAME}
    path = getattr(frames, "path", None)
    if hasattr(frames, "sop_instance_uid") and path is not None:
        from samurai.dicom.seg import write_segmentation

        if objects is None:
            objects = [int(o) for o in np.unique(np.asarray(labels)) if o]
        segments = segment_labels(objects, names)
        if segments:
            write_segmentation(
                out_dir / SEG_NAME, path, {label: _ObjectMask(labels, obj) for obj, label in segments.items()}
            )
            exports["seg"] = SEG_NAME
            exports["seg_segments"] = {str(obj): label for obj, label in segments.items()}
    kind = "DICOM" if hasattr(frames, "sop_instance_uid") else "video"
    return {"source": manifest_source(info, len(labels), kind=kind), "exports": exports}


def write_run_exports(
    out_dir: str | os.PathLike,
    frames,
    n_frames: int,
    objects: list[int],
    names: Mapping | None = None,
    info: SourceInfo | None = None,
) -> dict[str, Any]:
    """The exports of a tracking run whose ``masks/NNNNN.png`` are written (``n_frames`` of
    them), read back one frame at a time: :func:`write_mask_exports` without the labels in
    memory. ``names``: object id -> structure name (e.g. the manifest's ``names``)."""
    out_dir = Path(out_dir)
    labels = PngLabels(out_dir / "masks", n_frames, frames.height, frames.width)
    names = {int(k): v for k, v in (names or {}).items()}
    return write_mask_exports(out_dir, frames, labels, names, info, objects=list(objects))


__all__ = [
    "NIFTI_NAME",
    "PngLabels",
    "SEG_NAME",
    "segment_labels",
    "source_info_of",
    "write_mask_exports",
    "write_run_exports",
]
