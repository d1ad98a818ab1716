"""EchoNet-Dynamic loader: AVI videos, ``FileList.csv`` and the LV tracings of
``VolumeTracings.csv`` rasterised to masks (supervision on the 2 traced frames only)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from samurai.data._base import (
    DatasetError,
    EchoCase,
    EchoDataset,
    check_root,
    normalise_split,
)

TRACING_HEADER = ["FileName", "X1", "Y1", "X2", "Y2", "Frame"]


def rasterise_tracing(rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """LV mask from one frame's tracing rows ``[N, 4]`` of ``X1, Y1, X2, Y2``.

    Row 0 is the long axis; the rest are chords across the LV. The outline is the polygon
    through ``concat(X1[1:], flip(X2[1:]))`` (same for Y), filled with OpenCV at 1/16 pixel
    precision. Returns ``uint8 [H, W]`` with 1 inside.
    """
    import cv2

    if rows.shape[0] < 3:
        raise DatasetError(f"a tracing needs the long axis and >= 2 chords, got {rows.shape[0]} rows")
    x = np.concatenate([rows[1:, 0], rows[1:, 2][::-1]])
    y = np.concatenate([rows[1:, 1], rows[1:, 3][::-1]])
    shift = 4
    # Pixel centres sit at integer coordinates, as in the tracings.
    points = np.round(np.stack([x, y], axis=1) * (1 << shift)).astype(np.int32)
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [points], 1, lineType=cv2.LINE_8, shift=shift)
    return mask


# How far outside the frame a traced point may lie (a fraction of the frame's size): tracers
# click on the border, never a frame's width away from it.
TRACING_MARGIN = 0.1


def _check_inside(rows: np.ndarray, shape: tuple[int, int], video: str, frame: int) -> None:
    """Refuse a tracing with points far outside the frame (a corrupt or shifted CSV row)."""
    h, w = shape
    xs, ys = rows[:, [0, 2]], rows[:, [1, 3]]
    mx, my = TRACING_MARGIN * w, TRACING_MARGIN * h
    if (xs < -mx).any() or (xs > w - 1 + mx).any() or (ys < -my).any() or (ys > h - 1 + my).any():
        raise DatasetError(
            f"VolumeTracings.csv traces frame {frame} of {video} with points outside its {w}x{h} "
            f"frame (x {xs.min():g}..{xs.max():g}, y {ys.min():g}..{ys.max():g}); fix those rows or "
            "remove the case from FileList.csv"
        )


def read_video(path: Path) -> tuple[np.ndarray, str | None]:
    """Grey ``uint8 [T, H, W]`` frames of a video file (channels averaged), decoded until
    decoding ends (a container's frame count is an estimate), and why the video ended before the
    count its container announces (None when it did not).
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    finally:
        capture.release()
    if not frames:
        raise DatasetError(
            f"cannot read any frame of {path}: the video is corrupt or its codec is not supported "
            "by OpenCV; re-encode it (e.g. ffmpeg -i in.avi -c:v mjpeg out.avi)"
        )
    ended = None
    if len(frames) < announced:
        ended = (
            f"{path.name} decodes {len(frames)} of the {announced} frames its container "
            f"announces (the file is truncated or damaged at frame {len(frames)})"
        )
    return np.stack(frames).astype(np.uint8), ended


def note_ended_early(meta: dict, frames_read: int, ended: str | None, lost: list[int]) -> None:
    """Record in a case's ``meta`` that its video ended early (``ended``: why, None when it did
    not) and which labelled frames went with the tail (``lost``: not scored; the frames read are)."""
    if ended is not None:
        meta.update(ended_early=ended, frames_read=int(frames_read))
    if lost:
        meta["labelled_lost"] = sorted(int(f) for f in lost)


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"{path} is missing; EchoNet-Dynamic needs FileList.csv and VolumeTracings.csv")
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's byte-order mark
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise DatasetError(f"{path} lacks column(s) {missing}; its header is {header}")
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def _stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".avi") else name


def load_echonet(root, split: str | None = None) -> EchoDataset:
    """EchoNet-Dynamic: one case per video with the LV traced on (usually) ED and ES.

    ED is the traced frame with the larger LV area, ES the smaller. Videos with fewer than two
    traced frames, or missing from ``Videos/``, are skipped with a warning.
    """
    root = check_root(root)
    split = normalise_split(split)
    files = _read_csv(root / "FileList.csv", ["FileName", "Split"])
    tracing_rows = _read_csv(root / "VolumeTracings.csv", TRACING_HEADER)
    tracings: dict[str, dict[int, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    damaged: dict[str, str] = {}  # case -> why its tracing cannot be used (the first bad row)
    for n, row in enumerate(tracing_rows):
        try:
            coords = [float(row[c]) for c in ("X1", "Y1", "X2", "Y2")]
            frame = int(float(row["Frame"]))
        except ValueError as err:
            raise DatasetError(f"VolumeTracings.csv row {n + 2} is malformed: {err}") from err
        if not np.isfinite(coords).all():
            damaged.setdefault(
                _stem(row["FileName"]),
                f"VolumeTracings.csv row {n + 2} has a coordinate that "
                f"is not a number ({', '.join(row[c] for c in ('X1', 'Y1', 'X2', 'Y2'))})",
            )
        tracings[_stem(row["FileName"])][frame].append(coords)
    entries, skipped = [], []
    for row in files:
        case_id = _stem(row["FileName"])
        csplit = normalise_split(row["Split"]) if row["Split"] else None
        if split is not None and csplit != split:
            continue
        video = root / "Videos" / f"{case_id}.avi"
        traced = tracings.get(case_id, {})
        if not video.is_file():
            skipped.append((case_id, f"video {video.name} missing from Videos/"))
        elif case_id in damaged:
            skipped.append((case_id, damaged[case_id]))
        elif len(traced) < 2:
            skipped.append((case_id, f"{len(traced)} traced frame(s) in VolumeTracings.csv, need 2"))
        else:
            entries.append((case_id, csplit, _echonet_loader(case_id, video, dict(traced), row, csplit)))
    return EchoDataset("echonet", root, entries, skipped)


def _echonet_loader(case_id, video, traced, row, split):
    def load() -> EchoCase:
        frames, ended = read_video(video)
        t, h, w = frames.shape
        masks = np.zeros(frames.shape, dtype=np.uint8)
        labelled = np.zeros(t, dtype=bool)
        areas, lost = {}, []
        for frame, rows in traced.items():
            if ended is not None and frame >= t:
                lost.append(frame)  # went with the video's tail: the frames read are scored
                continue
            if not 0 <= frame < t:
                raise DatasetError(
                    f"VolumeTracings.csv traces frame {frame} of {video.name}, which has {t} frames"
                )
            _check_inside(np.asarray(rows, dtype=np.float64), (h, w), video.name, frame)
            masks[frame] = rasterise_tracing(np.asarray(rows, dtype=np.float64), (h, w))
            labelled[frame] = True
            areas[frame] = int(masks[frame].sum())
        if not areas:
            raise DatasetError(
                f"{ended}; every traced frame ({', '.join(map(str, sorted(lost)))}) is "
                f"lost with its tail: re-download or re-encode {video.name}, or remove "
                "its case from FileList.csv"
            )
        ordered = sorted(areas, key=lambda f: (-areas[f], f))
        meta = {"view": "A4C", "split": split, "ed_index": ordered[0], "es_index": ordered[-1]}
        for key, name in (("EF", "ef"), ("FPS", "fps"), ("EDV", "edv"), ("ESV", "esv")):
            try:
                meta[name] = float(row[key])
            except (KeyError, ValueError):
                pass
        note_ended_early(meta, t, ended, lost)
        return EchoCase(case_id, frames, masks, labelled, {1: "LV"}, None, meta)

    return load
