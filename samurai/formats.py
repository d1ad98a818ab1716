"""File formats the app reads and writes: label-mask PNGs, LaSOT box files, CSV tables, JSON
and SAMURAI calibration files. Every writer is atomic (``samurai.output``).

NumPy and Pillow only: the demo imports this module on machines without torch.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from samurai.output import atomic_write_bytes, atomic_write_text


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 [H, W] or [H, W, 3] image as PNG, atomically."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"write_png needs uint8 pixels, got {image.dtype}")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def read_mask_png(path: str | os.PathLike) -> np.ndarray:
    """A label mask PNG as uint8 [H, W] (pixel value = object id).

    Pixel values are ids, never grey levels: 8-bit and deeper single-channel images (any byte
    order, :data:`samurai_common.frames.HIGH_DEPTH_MODES`) are read as they are, and ids above 255
    are refused, not scaled.
    """
    from PIL import Image

    from samurai_common.frames import HIGH_DEPTH_MODES

    with Image.open(path) as im:
        if im.mode not in ("L", "P", "1", *HIGH_DEPTH_MODES):
            raise ValueError(
                f"{path}: mask PNG has mode {im.mode}; save it as a single-channel (greyscale) "
                "PNG whose pixel values are object ids"
            )
        arr = np.asarray(im)
    if not np.array_equal(arr, np.round(arr)) or arr.min(initial=0) < 0:
        raise ValueError(f"{path}: mask pixel values must be whole object ids 0..255")
    if arr.max(initial=0) > 255:
        raise ValueError(f"{path}: object ids above 255 are not supported; renumber them 1..255")
    return arr.astype(np.uint8)


def write_lasot_boxes(path: str | os.PathLike, boxes_xyxy: np.ndarray) -> None:
    """Write one ``x,y,w,h`` line per frame (LaSOT ``groundtruth.txt`` style).

    ``boxes_xyxy`` are mask boxes (``samurai_core.mask_to_box``: inclusive corners), converted
    by ``samurai_core.xyxy_to_lasot`` (``w = x_max - x_min + 1``). Frames where the object is
    absent (zero or non-finite box) are written as ``0,0,0,0``, the convention of LaSOT-style
    result files.
    """
    from samurai_core.boxes import xyxy_to_lasot

    rows = xyxy_to_lasot(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4))
    text = "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows)
    atomic_write_text(path, text)


def read_lasot_boxes(path: str | os.PathLike) -> np.ndarray:
    """Read a LaSOT / GOT-10k box file: float [T, 4] x,y,w,h (comma, tab or space separated).

    Blank lines are skipped; an absent target is a line with a non-finite value or a
    non-positive width/height (``samurai_core.lasot_present``). Raises ``ValueError`` naming the
    file and line for anything else.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text box file; give one x,y,w,h line per frame") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ValueError(
                f"{path}:{n}: expected 4 numbers x,y,w,h, got {line!r}; fix that line "
                "(one x,y,w,h line per frame, 0,0,0,0 or NaN,NaN,NaN,NaN where the "
                "target is absent)"
            )
        rows.append(values)
    return np.asarray(rows, np.float64).reshape(-1, 4)


def write_csv(path: str | os.PathLike, rows: Sequence[dict], fieldnames: Sequence[str] | None = None) -> None:
    """Write dict rows as CSV (header from ``fieldnames`` or the first row), atomically."""
    fieldnames = list(fieldnames or (rows[0].keys() if rows else []))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{float(v):.6g}"
    if isinstance(v, np.integer):
        return int(v)
    return v


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically, creating the parent folders.

    Raises ``ValueError`` for NaN / inf (not JSON) before anything is written.
    """
    path = Path(path)
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path


def save_calibration(path: str | os.PathLike, calibration) -> Path:
    """Write a ``samurai_core.Calibration`` as a calibration file (``samurai calibrate -o``),
    stamping ``provenance["created"]`` (UTC) unless it is set.

    >>> import tempfile, pathlib, samurai_core as sc
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "noise.json"
    >>> _ = save_calibration(p, sc.Calibration("xyah", sc.NoiseParams(), {"data": "example"}))
    >>> load_calibration(p).noise == sc.NoiseParams()
    True
    """
    import datetime

    from samurai_core.calibrate import calibration_to_dict

    data = calibration_to_dict(calibration)
    data["provenance"].setdefault(
        "created", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    )
    return write_json(path, data)


def load_calibration(path: str | os.PathLike):
    """Read a calibration file written by ``save_calibration`` / ``samurai calibrate``.

    Raises ``FileNotFoundError`` / ``ValueError`` naming the file, the problem and the fix.
    """
    from samurai_core.calibrate import calibration_from_dict

    path = Path(path)
    fix = "re-run `samurai calibrate` to write it again"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"calibration file {path} does not exist; {fix}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text (JSON) calibration file; {fix}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); {fix}") from None
    return calibration_from_dict(data, str(path))
