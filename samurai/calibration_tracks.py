"""The box tracks ``samurai calibrate`` fits the Kalman noise to: LaSOT / GOT-10k box files and
the mask boxes of an echo dataset, as ``(name, boxes_xyxy float64[T, 4], present bool[T])``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samurai.errors import UserError


def read_box_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a LaSOT-style box file: ``(boxes_xyxy float64[T, 4], present bool[T])``.

    Lines hold ``x,y,w,h`` (top-left corner, pixels) separated by commas and/or whitespace.
    A line with a non-finite value or a non-positive width/height marks the object absent
    (NaN box). Boxes are converted with ``samurai_core.lasot_to_xyxy`` (the mask-box
    convention, as for ``--dataset`` masks).
    """
    from samurai.formats import read_lasot_boxes
    from samurai_core.boxes import lasot_present, lasot_to_xyxy

    try:
        xywh = read_lasot_boxes(path)
    except ValueError as err:
        raise UserError(str(err)) from None
    if not len(xywh):
        raise UserError(f"{path} is empty; a box file needs one x,y,w,h line per frame")
    present = lasot_present(xywh)
    return np.where(present[:, None], lasot_to_xyxy(xywh), np.nan), present


def box_files(paths: list[str]) -> list[Path]:
    files = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.rglob("groundtruth.txt"))
            if not found:
                raise UserError(f"no groundtruth.txt under {path}; give box files or folders holding them")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path} does not exist; give box files or folders of groundtruth.txt")
    return files


def mask_boxes(masks: np.ndarray, labelled: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (``samurai_core.mask_to_box``) of ``label`` in a label map ``[T, H, W]``, and
    where it is present; NaN boxes where the label is absent or the frame unlabelled."""
    from samurai_core.boxes import mask_to_box

    m = masks == label
    present = np.asarray(labelled, bool) & m.any(axis=(1, 2))
    return np.where(present[:, None], mask_to_box(m).astype(np.float64), np.nan), present


def dataset_tracks(root, kind, split, label: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """One box track per case of an echo dataset: ``label``'s mask boxes (see :func:`mask_boxes`)."""
    from samurai.data import DatasetError, open_dataset

    try:
        dataset = open_dataset(root, kind=kind, split=split)
        tracks = []
        for i in range(len(dataset)):
            case = dataset[i]
            boxes, present = mask_boxes(case.masks, case.labelled, label)
            tracks.append((f"{root}:{case.case_id}", boxes, present))
    except DatasetError as err:
        raise UserError(str(err)) from None
    return tracks
