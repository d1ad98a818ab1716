"""Overlay videos: a looping GIF (Pillow) and a streamed MP4 (OpenCV ``mp4v``, else
imageio-ffmpeg), each written atomically (temporary file in the same folder, then renamed)."""

from __future__ import annotations

import errno
import io
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from samurai.output import atomic_write_bytes, process_umask


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
            os.chmod(self._tmp, 0o666 & ~process_umask())
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
        raise OSError(
            errno.ENOSPC if full else errno.EIO,
            f"{os.strerror(errno.ENOSPC if full else errno.EIO)}: the MP4 encoder wrote "
            f"{max(found, 0)} of {self.frames} frames into {self.path.name}",
            self._tmp,
        )


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
