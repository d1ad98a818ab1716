"""Output writers of the command line: masks, box files, score tables, overlay videos.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
and a whole run's outputs go through ``OutputDir``: they are written into a sibling
``OUT.partial-XXXX`` folder that is renamed to ``OUT`` only at the end, after a manifest,
so that a run that fails never leaves an output that looks complete, never replaces what this
project did not write, and a run killed outright leaves a partial folder that the next run
recognises as abandoned (docs/cli.md, "Exit codes and output guarantees").

Only NumPy, Pillow and (for MP4) OpenCV or imageio-ffmpeg are used: the demo imports this
module on machines without torch.
"""

from __future__ import annotations

import csv
import errno
import glob
import hashlib
import io
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from samurai.cli import CLIError

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
            raise ValueError(f"{path}:{n}: expected 4 numbers x,y,w,h, got {line!r}; fix that line "
                             "(one x,y,w,h line per frame, 0,0,0,0 or NaN,NaN,NaN,NaN where the "
                             "target is absent)")
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


def draw_box(image: np.ndarray, box, colour) -> np.ndarray:
    """``image`` (RGB uint8) with the outline of ``box`` (x1, y1, x2, y2 pixels, clipped to it)."""
    from PIL import Image, ImageDraw

    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    pil = Image.fromarray(np.ascontiguousarray(image))
    ImageDraw.Draw(pil).rectangle(
        [max(0.0, x1), max(0.0, y1), min(w - 1.0, x2 - 1), min(h - 1.0, y2 - 1)],
        outline=tuple(int(c) for c in colour), width=max(1, round(min(h, w) / 128)),
    )
    return np.asarray(pil)


def stamp(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` (RGB uint8) with ``text`` in white on a black band across its top-left corner."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(pil)
    _, _, right, bottom = draw.textbbox((2, 2), text)
    draw.rectangle([0, 0, right + 2, bottom + 2], fill=(0, 0, 0))
    draw.text((2, 2), text, fill=(255, 255, 255))
    return np.asarray(pil)


def fingerprint(path: str | os.PathLike | None):
    """SHA-256 of a file, ``{relative path: sha256}`` of a folder's files, None for None."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        return {str(p.relative_to(path)): file_sha256(p) for p in sorted(path.rglob("*")) if p.is_file()}
    return file_sha256(path)


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
        """Finish the file and move it into place (nothing is left if no frame was written).

        Raises OSError (ENOSPC when the file system has less room left than the file took) when
        the finished file does not hold every frame written: OpenCV's writer reports no write
        error, so a full disk would otherwise leave a short or unreadable video in place.
        """
        if self._writer is not None:
            if self._cv2 is not None:
                self._writer.release()
            else:
                self._writer.close()
            self._writer = None
            if self._cv2 is not None:
                self._check_written()
        if self.frames:
            os.chmod(self._tmp, 0o666 & ~_umask())
            os.replace(self._tmp, self.path)
        else:
            Path(self._tmp).unlink(missing_ok=True)


    def _check_written(self) -> None:
        capture = self._cv2.VideoCapture(self._tmp)
        found = int(capture.get(self._cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        if found == self.frames:
            return
        size = os.path.getsize(self._tmp)
        full = shutil.disk_usage(self.path.parent).free < max(size, 1 << 20)
        Path(self._tmp).unlink(missing_ok=True)
        raise OSError(errno.ENOSPC if full else errno.EIO,
                      f"{os.strerror(errno.ENOSPC if full else errno.EIO)}: the MP4 encoder wrote "
                      f"{max(found, 0)} of {self.frames} frames into {self.path.name}", self._tmp)


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


class OutputError(CLIError):
    """An output folder that cannot be used or written: the message names it and the fix."""


# The owner marker of a folder under construction (host, pid, process start): it tells the next
# run whether the folder is abandoned, and that it is this project's to remove.
PARTIAL_MARKER = ".samurai-partial.json"
_SPACE_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict:
    """Installed versions of the packages a run's result depends on (None: not installed)."""
    from importlib import metadata

    from samurai import __version__

    versions = {"samurai": __version__}
    for name in ("torch", "sam2", "jax", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def written_by_samurai(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a finished run of this project (its ``manifest.json`` says so).

    Manifests carry ``"tool": "samurai"``; those of earlier versions are recognised by
    ``"complete": true`` with a ``files`` list.
    """
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    return manifest.get("tool") == "samurai" or (
        manifest.get("complete") is True and isinstance(manifest.get("files"), list)
    )


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux), telling a reused pid from its owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


class OutputDir:
    """A run's output folder that appears complete or not at all, and never replaces foreign data.

    Use as a context manager: files go into ``<out>.partial-XXXX`` (``self.path``); on a clean
    exit a manifest listing every file is written last and the folder is renamed to ``out``.
    On an exception (Ctrl-C and SIGTERM included) the partial folder is removed, so nothing that
    looks like a finished run is left behind.

    Refused up front with :class:`OutputError` (before any work): ``out`` that is the working
    directory or one of its parents, a plain file, an existing folder without ``force``, and,
    even with ``force``, a non-empty folder that this project did not write
    (:func:`written_by_samurai`). A partial folder carries an owner marker (host, pid, process
    start time); the next run on the same ``out`` removes those whose process is gone (killed
    with SIGKILL, power cut) and says so on stderr. A write that fails (folder not writable,
    disk full) becomes an OutputError naming the folder and, for a full disk, the space.

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
        try:
            self._check_target()
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f"{self.out.name}.partial-"))
        except OSError as err:
            raise self._write_error(err) from None
        try:
            os.chmod(self.path, 0o777 & ~_umask())
            self._mark(self.path)
        except BaseException as err:  # an unmarked partial folder would never be swept
            shutil.rmtree(self.path, ignore_errors=True)
            if isinstance(err, OSError):
                raise self._write_error(err) from None
            raise

    # ------------------------------------------------------------------ checks before work
    def _check_target(self) -> None:
        out, target = self.out, self.out.resolve()
        cwd = Path.cwd().resolve()
        if target == cwd or target in cwd.parents:
            raise OutputError(
                f"--out {out} is the working directory or a folder above it; a run replaces its "
                "output folder as a whole, so give it a folder of its own, e.g. --out results/run1"
            )
        blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise OutputError(f"--out {out} cannot be made: {blocking} is a file, not a folder; "
                              "choose another --out")
        if out.parent.is_dir():
            self.sweep_stale()  # first: it may put back a run that a killed process moved aside
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise OutputError(
                f"--out {out} is a file or a symbolic link, not an output folder; samurai never "
                "replaces it: choose another --out"
            )
        if not out.exists():
            return
        if not self.force:
            raise OutputError(
                f"output folder {out} already exists; pass --force to replace it (only a folder "
                "written by samurai, or an empty one, is replaced) or choose another --out"
            )
        if not self._replaceable():
            raise OutputError(
                f"--force refused: {out} holds files that samurai did not write (no samurai "
                "manifest.json in it), and samurai replaces only its own run folders or empty "
                "ones; choose another --out, or move that folder away yourself"
            )

    def _replaceable(self) -> bool:
        return written_by_samurai(self.out) or not any(self.out.iterdir())

    # ------------------------------------------------------------------ abandoned folders
    @staticmethod
    def _mark(folder: Path) -> None:
        owner = {"tool": "samurai", "host": socket.gethostname(), "pid": os.getpid(),
                 "start": _process_start(os.getpid())}
        (folder / PARTIAL_MARKER).write_text(json.dumps(owner) + "\n")

    def sweep_stale(self) -> list[Path]:
        """Remove the partial / moved-aside folders of ``out`` whose owner process is gone.

        Only folders named ``<out>.partial-*`` or ``<out>.old-*`` that hold this project's owner
        marker are considered; those of a live process or of another host are left alone (the
        message says how to remove them). A moved-aside previous run whose replacement never
        arrived is put back at ``out``. Returns the folders removed or restored.
        """
        done = []
        for folder in sorted(self.out.parent.glob(f"{glob.escape(self.out.name)}.*-*")):
            kind = folder.name[len(self.out.name) + 1:].split("-", 1)[0]
            if kind not in ("partial", "old") or not folder.is_dir() or folder.is_symlink():
                continue
            try:
                owner = json.loads((folder / PARTIAL_MARKER).read_text())
                pid, host = int(owner["pid"]), owner["host"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if host != socket.gethostname():
                print(f"note: {folder} was left by process {pid} on host {host}; if that run has "
                      "ended, remove the folder yourself", file=sys.stderr)
                continue
            if _alive(pid, owner.get("start")):
                continue
            previous = folder / "previous"
            if kind == "old" and previous.is_dir() and not self.out.exists():
                os.replace(previous, self.out)
                print(f"restored {self.out} from {folder}, left by process {pid} that was "
                      "killed while replacing it", file=sys.stderr)
            else:
                print(f"removed {folder}: an unfinished output of process {pid}, which was "
                      "killed (SIGKILL or power loss)", file=sys.stderr)
            shutil.rmtree(folder)
            done.append(folder)
        return done

    # ------------------------------------------------------------------ errors while writing
    def _write_error(self, err: OSError, written: int | None = None) -> OutputError:
        where = self.out.parent if not self.out.parent.exists() else self.out
        text = f"cannot write output folder {where}: {(err.strerror or os.strerror(err.errno)) if err.errno else err}"
        if err.errno in _SPACE_ERRNOS:
            free = shutil.disk_usage(self.out.parent).free
            wrote = f"the run had written {_human(written)} when it filled up; " if written else ""
            text += (f" ({wrote}{_human(free)} left on that file system, its partial output "
                     "removed); free some space or choose an --out on another disk")
        elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            text += "; choose an --out in a folder you can write to"
        else:
            text += f" ({err}); choose another --out"
        return OutputError(text)

    def _concerns_output(self, err: BaseException) -> bool:
        if not isinstance(err, OSError):
            return False
        if err.errno in _SPACE_ERRNOS:
            return True
        name = getattr(err, "filename", None)
        if name is None:
            return False
        path, partial = Path(os.fsdecode(name)).resolve(), self.path.resolve()
        return path == partial or partial in path.parents

    # ------------------------------------------------------------------ finishing
    def __enter__(self) -> "OutputDir":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            written = _tree_size(self.path) if self._concerns_output(exc) else None
            shutil.rmtree(self.path, ignore_errors=True)
            if written is not None:
                raise self._write_error(exc, written) from None
            return False
        try:
            self._finish()
        except OSError as err:
            written = _tree_size(self.path) if self.path.exists() else None
            shutil.rmtree(self.path, ignore_errors=True)
            raise self._write_error(err, written) from None
        except BaseException:  # Ctrl-C / SIGTERM while finishing: no unmarked folder stays
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return False

    def _finish(self) -> None:
        (self.path / PARTIAL_MARKER).unlink()
        files = sorted(
            str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()
        )
        manifest = {"tool": "samurai", **self.info, "packages": package_versions(),
                    "complete": True, "files": files}
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
        if self.out.exists():
            if not self._replaceable():  # it changed while this run worked
                raise OutputError(
                    f"{self.out} was filled with other files during this run; its result is not "
                    "written over them: choose another --out"
                )
            # Move the old run aside first (marked, so that a run killed between the two steps
            # gets it back at the next start) and only then put the new one in place.
            old = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f"{self.out.name}.old-"))
            try:
                self._mark(old)
                os.replace(self.out, old / "previous")
                try:
                    os.replace(self.path, self.out)
                except BaseException:
                    os.replace(old / "previous", self.out)
                    raise
            finally:
                if self.out.exists():  # never while it holds the only copy of the earlier run
                    shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.path, self.out)


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
