"""The masks an evaluation scored, written per case and method as ``samurai track`` writes a
run's (:func:`samurai.mask_exports.write_mask_exports`, the one writer of both): ``masks.nii.gz``
for every case, with the case's spacing and frame time where known, and ``seg.dcm`` where the
case's video is an ultrasound DICOM (generic layout).

In the output folder: ``masks/<case>/<method>/masks.nii.gz`` (a baseline's method
``NAME/PROTOCOL`` is two folders). Each file holds every frame of the case's video (frames
before the prompt empty, as are a per-frame baseline's unlabelled frames under ``oracle-box``),
labelled with the dataset's label ids; where two structures' masks overlap the higher id wins,
as in track's PNG masks (``per_case.csv`` scores each structure's own mask). ``seg.dcm`` has
one segment per structure, under its dataset name, coded as track's are.

While a case is worked on, its files go into the work folder's staging folder of the case
(:meth:`samurai.shard.CaseStore.staging`) and are kept with its record; rank 0 links them into
the output folder once every case is done (:func:`place_mask_exports`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

EXPORTS_FOLDER = "masks"


def case_source(case, kind: str | None = None):
    """``(frames, SourceInfo)`` of an echo case for its exports: a DICOM video's own file
    (spacing, frame time, study hash), else the case's frames with the dataset's spacing
    (a CAMUS / CardiacUDA image header) and frame rate (EchoNet's FileList, CAMUS's Info
    file), each None where the dataset has none."""
    from samurai_common.source_info import SourceInfo

    if case.meta.get("dicom"):
        from samurai.dicom.privacy import study_salt
        from samurai_common.dicom import open_dicom

        frames = open_dicom(case.meta["dicom"], salt=study_salt())
        return frames, frames.info
    spacing = None if case.spacing is None else (case.spacing[1] / 10.0, case.spacing[0] / 10.0)
    fps = case.meta.get("fps")
    info = SourceInfo(
        spacing=spacing,
        spacing_source=f"image header ({kind} dataset)" if spacing else None,
        frame_time_ms=1000.0 / float(fps) if fps else None,
    )
    return case.frames, info


def label_map(masks, ids):
    """``uint8 [T, H, W]`` labels from the masks ``bool [T, len(ids), H, W]`` of structures
    ``ids`` (ascending): the higher id wins where masks overlap, as in track's masks."""
    import numpy as np

    labels = np.zeros(masks.shape[:1] + masks.shape[2:], np.uint8)
    for i, k in enumerate(ids):
        labels[masks[:, i]] = k
    return labels


class CaseExports:
    """Writes the exports of one case, one method at a time, into ``folder`` (the work
    folder's staging folder of the case); call it as ``export(method, masks, ids)``."""

    def __init__(self, folder: str | os.PathLike, case, kind: str | None = None):
        self.folder, self.case = Path(folder), case
        self.frames, self.info = case_source(case, kind)
        self.source = None
        self.methods: dict[str, dict] = {}

    def __call__(self, method: str, masks, ids) -> None:
        from samurai.mask_exports import write_mask_exports

        target = self.folder / method
        target.mkdir(parents=True, exist_ok=True)
        names = {k: self.case.labels[k] for k in ids}
        entry = write_mask_exports(
            target, self.frames, label_map(masks, ids), names, self.info, objects=list(ids)
        )
        self.source = entry["source"]
        self.methods[method] = _under(f"{method}/", entry["exports"])

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()

    def record(self) -> dict:
        """What was written (file paths relative to the case's folder), for the case's record."""
        return {"source": self.source, "methods": self.methods}


def case_folder(case_id: str) -> str:
    """The folder name of a case under ``masks/``: its id where that is a plain file name,
    else the work folder's readable and unique stem of it."""
    import re

    from samurai.shard import case_stem

    if re.fullmatch(r"[A-Za-z0-9_.+-]+", case_id) and case_id not in (".", ".."):
        return case_id
    return case_stem(case_id)


def place_mask_exports(records, store, out_path: str | os.PathLike, written: bool) -> dict:
    """Link (or copy, across file systems) every stored case's exports into
    ``out_path/masks/<case>/`` and return the manifest's ``exports`` entry: per case its
    folder, source (units, frame time, study hash) and files per method."""
    cases = []
    for record, _ in records:
        exports, files = record.get("exports"), store.files(record["case_id"])
        if record["failed"] or not exports or files is None:
            continue
        name = case_folder(record["case_id"])
        _link_tree(files, Path(out_path) / EXPORTS_FOLDER / name)
        prefix = f"{EXPORTS_FOLDER}/{name}/"
        methods = {method: _under(prefix, entry) for method, entry in exports["methods"].items()}
        cases.append({"case": record["case_id"], "source": exports["source"], "methods": methods})
    return {"mask_exports": written, "folder": EXPORTS_FOLDER, "cases": cases}


def _under(prefix: str, exports: dict) -> dict:
    """An ``exports`` entry with its file names (``nifti``, ``seg``) under the folder ``prefix``."""
    return {k: prefix + v if k in ("nifti", "seg") else v for k, v in exports.items()}


def _link_tree(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        if path.is_dir():
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:  # the work folder is removed once the output is in place: a link copies nothing
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)


def count_files(entry: dict) -> tuple[int, int]:
    """(masks.nii.gz files, seg.dcm files) listed in a manifest ``exports`` entry."""
    methods = [m for case in entry["cases"] for m in case["methods"].values()]
    return sum("nifti" in m for m in methods), sum("seg" in m for m in methods)


def exports_text(entry: dict | None) -> str:
    """The files a manifest ``exports`` entry lists, in a few words for summary.md:
    ``N masks.nii.gz and M seg.dcm in masks/<case>/<method>/``; "" when no case has exports."""
    if not entry or not entry["cases"]:
        return ""
    nifti, seg = count_files(entry)
    return (
        f"{nifti} masks.nii.gz"
        + (f" and {seg} seg.dcm" if seg else "")
        + f" in {entry['folder']}/<case>/<method>/"
    )


__all__ = [
    "EXPORTS_FOLDER",
    "CaseExports",
    "case_folder",
    "case_source",
    "count_files",
    "exports_text",
    "label_map",
    "place_mask_exports",
]
