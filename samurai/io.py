"""Output writers of the command line: masks, box files, score tables, overlay videos.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
and a whole run's outputs go through ``OutputDir``: they are written into a sibling
``OUT.partial-XXXX`` folder that is renamed to ``OUT`` only at the end, after a manifest,
so that a run that fails never leaves an output that looks complete.

Only NumPy, Pillow and (for MP4) OpenCV or imageio-ffmpeg are used: the demo imports this
module on machines without torch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

MANIFEST = "manifest.json"

# Distinct overlay colours per object id (id 1 first); wraps around beyond eight objects.
PALETTE = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [0, 130, 200],
        [255, 225, 25],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
    ],
    np.uint8,
)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


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
    """A label mask PNG as uint8 [H, W] (pixel value = object id)."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "P", "1", "I", "I;16"):
            raise ValueError(
                f"{path}: mask PNG has mode {im.mode}; save it as a single-channel (greyscale) "
                "PNG whose pixel values are object ids"
            )
        arr = np.asarray(im)
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
    """Read a LaSOT / GOT-10k box file: float [T, 4] x,y,w,h (comma, tab or space separated)."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected 4 numbers x,y,w,h, got {line!r}")
        rows.append([float(p) for p in parts])
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


def overlay(frame: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8 [H, W, 3]: ``frame`` (grey or RGB) with each object id tinted and outlined."""
    rgb = np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame
    out = rgb.astype(np.float32)
    for oid in np.unique(labels):
        if oid == 0:
            continue
        m = labels == oid
        colour = PALETTE[(int(oid) - 1) % len(PALETTE)].astype(np.float32)
        out[m] = (1 - alpha) * out[m] + alpha * colour
        edge = m & ~(
            np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1)
        )
        out[edge] = colour
    return out.clip(0, 255).astype(np.uint8)


def write_gif(path: str | os.PathLike, images: Iterable[np.ndarray], fps: float = 10.0) -> None:
    """Write RGB uint8 frames as a looping GIF (Pillow), atomically."""
    from PIL import Image

    pil = [Image.fromarray(np.asarray(im)) for im in images]
    if not pil:
        raise ValueError("write_gif needs at least one frame")
    buf = io.BytesIO()
    pil[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=pil[1:],
        duration=max(20, int(round(1000.0 / max(fps, 1e-3)))),
        loop=0,
        optimize=True,
    )
    atomic_write_bytes(path, buf.getvalue())


class MP4Writer:
    """Streams RGB uint8 frames into an MP4 file (OpenCV ``mp4v``, else imageio-ffmpeg).

    Frames go to a temporary file in the same folder; ``close()`` renames it into place, so a
    reader never sees a half-written video. Raises RuntimeError naming the package to install
    when neither encoder is present.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 10.0):
        self.path = Path(path)
        self.fps = float(fps)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".mp4")
        os.close(fd)
        self._cv2 = self._ffmpeg = None
        try:
            import cv2

            self._cv2 = cv2
        except ImportError:
            if not mp4_available():
                Path(self._tmp).unlink(missing_ok=True)
                raise RuntimeError(
                    "no MP4 encoder: install opencv-python-headless or imageio-ffmpeg "
                    "(the GIF is written without them)"
                ) from None
        self._writer = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        """Append one RGB uint8 [H, W, 3] frame (all frames must share the first one's size)."""
        image = np.ascontiguousarray(image)
        if self._writer is None:
            h, w = image.shape[:2]
            if self._cv2 is not None:
                self._writer = self._cv2.VideoWriter(
                    self._tmp, self._cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h)
                )
                if not self._writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot open an MP4 writer for {self.path}")
            else:
                import imageio.v2 as imageio

                self._writer = imageio.get_writer(self._tmp, fps=self.fps, format="FFMPEG")
        if self._cv2 is not None:
            self._writer.write(self._cv2.cvtColor(image, self._cv2.COLOR_RGB2BGR))
        else:
            self._writer.append_data(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and move it into place (nothing is left if no frame was written)."""
        if self._writer is not None:
            if self._cv2 is not None:
                self._writer.release()
            else:
                self._writer.close()
            self._writer = None
        if self.frames:
            os.chmod(self._tmp, 0o666 & ~_umask())
            os.replace(self._tmp, self.path)
        else:
            Path(self._tmp).unlink(missing_ok=True)


def mp4_available() -> bool:
    """Whether an MP4 encoder (OpenCV or imageio-ffmpeg) can be imported."""
    for name in ("cv2", "imageio_ffmpeg"):
        try:
            __import__(name)
            return True
        except ImportError:
            continue
    return False


def write_mp4(path: str | os.PathLike, images: Iterable[np.ndarray], fps: float = 10.0) -> None:
    """Write RGB uint8 frames as an MP4 file, atomically (see ``MP4Writer``)."""
    writer = MP4Writer(path, fps)
    try:
        for im in images:
            writer.write(im)
    finally:
        writer.close()


class OutputDir:
    """A run's output folder that appears complete or not at all.

    Use as a context manager: files go into ``<out>.partial-XXXX`` (``self.path``); on a clean
    exit a manifest listing every file is written last and the folder is renamed to ``out``
    (replacing an existing one only when ``force``). On an exception the partial folder is
    removed, so nothing that looks like a finished run is left behind.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with OutputDir(root / "run") as out:
    ...     (out.path / "a.txt").write_text("hi")
    2
    >>> sorted(p.name for p in (root / "run").iterdir())
    ['a.txt', 'manifest.json']
    """

    def __init__(self, out: str | os.PathLike, force: bool = False, info: dict | None = None):
        self.out = Path(out)
        self.force = force
        self.info = dict(info or {})
        if self.out.exists() and not force:
            raise FileExistsError(
                f"output folder {self.out} already exists; pass --force to overwrite it or "
                "choose another --out"
            )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f"{self.out.name}.partial-"))
        os.chmod(self.path, 0o777 & ~_umask())

    def __enter__(self) -> "OutputDir":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return False
        files = sorted(
            str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()
        )
        manifest = {**self.info, "complete": True, "files": files}
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if self.out.exists():
            # Move the old run aside first so a crash between the two steps loses nothing.
            old = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f"{self.out.name}.old-"))
            os.replace(self.out, old / "previous")
            os.replace(self.path, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.path, self.out)
        return False


# ----------------------------------------------------------------------------- JSON files


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
