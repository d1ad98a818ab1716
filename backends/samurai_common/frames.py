"""Frame sources: read a video lazily from a file, a folder of images, or arrays in memory.

``open_frames(source)`` returns a :class:`FrameSource`: ``len``, ``height``, ``width``, ``fps``
(``None`` when unknown), ``source[i]`` (an ``H×W×3`` uint8 RGB array) and iteration. Frames are
decoded on demand with a small cache, so a 1000-frame video costs a few frames of memory.

A video file's frame count is its container's estimate and a frame folder may hold a file that
does not decode, so code that streams a video asks ``source.available(t)`` before frame ``t``:
it reads on past the announced count until decoding ends (``len`` grows), and stops at the
first frame that cannot be read (``len`` shrinks to it and ``ended_early`` says why).

>>> frames = open_frames("clip.mp4")           # or a folder of JPEG/PNG, or a list of arrays
>>> frames.height, frames.width, len(frames)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from samurai_common.frame_source import (  # noqa: F401  the contract, re-exported
    FrameError,
    FrameSource,
    VideoEndedEarly,
    _Cache,
    _check_frame,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
# A DICOM cine is a video too (open_frames tells it by its preamble, whatever the suffix).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".dcm", ".dicom")


# PIL modes of one grey channel deeper than 8 bits (16-bit PNG/TIFF, 12-bit-in-16, 32-bit, float):
# PIL's own convert("L"/"RGB") clips them to 255, so they go through to_uint8 instead.
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_uint8(array: np.ndarray, where: str, window: tuple[float, float] | None = None) -> np.ndarray:
    """Pixels of any integer or float depth as uint8: the one conversion of every frame reader.

    Values already in 0..255 are kept (rounded); a wider range (16-bit, 12 bits stored in 16,
    float) is stretched linearly so that its minimum becomes 0 and its maximum 255. The range is
    ``window = (lo, hi)`` when given (a video read frame by frame passes the range of all its
    frames, so one grey level means one thing on every frame), else the array's own.

    Raises:
      FrameError: the array holds NaN or inf (a corrupt file), naming ``where``.
    """
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if not np.isfinite(array).all():
        raise FrameError(f"{where} holds NaN or inf values; the file is corrupt")
    lo, hi = window if window is not None else (float(array.min()), float(array.max()))
    if 0 <= lo and hi <= 255:
        return np.round(array).astype(np.uint8)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.round((array.astype(np.float64) - lo) * scale).astype(np.uint8)


def _frame_key(path: Path):
    """Sort numerically when stems are numbers (00009 before 00010, 9 before 10)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem)]


def _dicom_files_among(folder: Path) -> list[Path]:
    from samurai_common.dicom import looks_like_dicom

    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() not in IMAGE_SUFFIXES and looks_like_dicom(p)
    )


class FolderFrames(FrameSource):
    """Frames stored as image files in one folder, in numeric order of their names."""

    def __init__(self, folder: str | os.PathLike, cache_size: int = 4):
        from PIL import Image

        self._Image = Image
        self.folder = Path(folder)
        self.name = str(self.folder)
        self.paths = sorted(
            (p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
            key=_frame_key,
        )
        dicoms = _dicom_files_among(self.folder)
        if dicoms:
            raise FrameError(
                f"folder {self.name!r} holds DICOM file(s) ({dicoms[0].name!r}"
                f"{f' and {len(dicoms) - 1} more' if len(dicoms) > 1 else ''}); a DICOM file is a "
                f"whole video, not a frame: pass it on its own, or move it out of the frame folder"
            )
        if not self.paths:
            raise FrameError(
                f"no image frames in folder {self.name!r} (looked for {', '.join(IMAGE_SUFFIXES)}); "
                f"extract frames first, e.g. ffmpeg -i video.mp4 -q:v 2 -start_number 0 "
                f"'{self.name}/%05d.jpg', or pass the video file itself"
            )
        self._cache = _Cache(cache_size)
        self._len = len(self.paths)
        self._window: tuple[float, float] | None = None  # grey range of a high-depth folder
        first = self._read(0)
        self.height, self.width = first.shape[:2]

    def __len__(self) -> int:
        return self._len

    @property
    def frames_announced(self) -> int:
        return len(self.paths)

    def available(self, index: int) -> bool:
        if not 0 <= index < self._len:
            return False
        try:
            self[index]
        except VideoEndedEarly:
            return False
        return True

    def _read(self, index: int) -> np.ndarray:
        try:
            return self._read_file(index)
        except FrameError as err:
            if index == 0:
                raise
            # The frames before it stand: the video ends here, as a video file whose tail does
            # not decode (what was tracked before is kept, and the reason is reported).
            self._len = min(self._len, index)
            self.ended_early = (
                f"{err} (the video is taken to end before it: {index} of {len(self.paths)} frames)"
            )
            raise VideoEndedEarly(self.name, index, len(self.paths), self.ended_early) from err

    def _read_file(self, index: int) -> np.ndarray:
        frame = self._cache.get(index)
        if frame is not None:
            return frame
        path = self.paths[index]
        try:
            with self._Image.open(path) as img:
                if img.mode in HIGH_DEPTH_MODES:
                    grey = to_uint8(np.asarray(img), repr(str(path)), self._grey_window())
                    frame = np.repeat(grey[..., None], 3, axis=2)
                else:
                    frame = np.array(img.convert("RGB"))
        except FrameError:
            raise
        except Exception as err:  # PIL raises several types for broken files
            raise FrameError(
                f"cannot read frame {index} ({str(path)!r}): {err}; re-export or remove that file"
            ) from err
        if index and frame.shape[:2] != (self.height, self.width):
            raise FrameError(
                f"frame {index} ({str(path)!r}) is {frame.shape[1]}x{frame.shape[0]} but frame 0 "
                f"is {self.width}x{self.height}; all frames of a video must have one size"
            )
        self._cache.put(index, frame)
        return frame

    def _grey_window(self) -> tuple[float, float]:
        """The grey range of every high-depth frame of the folder (read once): a frame read on
        its own is stretched like the whole video, as a sequence file is (see to_uint8)."""
        if self._window is None:
            lo, hi = np.inf, -np.inf
            for path in self.paths:
                try:
                    with self._Image.open(path) as img:
                        if img.mode not in HIGH_DEPTH_MODES:
                            continue
                        low, high = img.getextrema()
                except Exception:  # noqa: BLE001  (read again, and reported, when it is reached)
                    continue
                if np.isfinite(low) and np.isfinite(high):
                    lo, hi = min(lo, float(low)), max(hi, float(high))
            self._window = (lo, hi)
        return self._window


class VideoFileFrames(FrameSource):
    """Frames decoded from a video file with OpenCV, sequentially where possible.

    ``len`` starts as the container's announced count, an estimate that can be wrong both ways:
    :meth:`available` decodes on past it while frames keep coming (``len`` grows), and when
    sequential decoding ends before it ``len`` shrinks to the frames read and
    :class:`VideoEndedEarly` is raised (``frames_announced`` keeps the container's count).
    """

    def __init__(self, path: str | os.PathLike, cache_size: int = 4):
        import cv2

        self._cv2 = cv2
        self.path = Path(path)
        self.name = str(self.path)
        self._cap = cv2.VideoCapture(self.name)
        if not self._cap.isOpened():
            raise FrameError(
                f"cannot open video {self.name!r} (OpenCV has no decoder for it or the file is "
                f"damaged); convert it, e.g. ffmpeg -i in.avi -c:v libx264 out.mp4, or extract "
                f"its frames into a folder"
            )
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.fps = fps if fps > 0 else None
        self._pos = 0  # index of the frame the decoder returns next
        self._done = False  # decoding has ended: no frame past len
        self._cache = _Cache(cache_size)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._len = count if count > 0 else self._count_frames()
        self._announced = self._len
        if self._len == 0:
            raise FrameError(f"video {self.name!r} has no frames; check the file")
        first = self._read(0)
        self.height, self.width = first.shape[:2]

    def _count_frames(self) -> int:
        """Some containers do not store a frame count: decode once to count."""
        n = 0
        while self._cap.grab():
            n += 1
        self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
        self._pos = 0
        return n

    def __len__(self) -> int:
        return self._len

    @property
    def frames_announced(self) -> int:
        return self._announced

    def available(self, index: int) -> bool:
        if index < 0:
            return False
        for t in range(min(index, self._len), index + 1):  # past len: decode on, in order
            if self._done and t >= self._len:
                return False
            try:
                self[t] if t < self._len else self._read(t)
            except VideoEndedEarly:
                return False
            except FrameError:
                if t < self._len:
                    raise
                self._done = True  # past the announced count: decoding simply ended here
                return False
        return True

    def _read(self, index: int) -> np.ndarray:
        frame = self._cache.get(index)
        if frame is not None:
            return frame
        sequential = index == self._pos
        if not sequential:
            self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            if sequential and 0 < index < self._len:
                # Every frame before this one decoded in order: the stream ends here.
                self._len, self._done = index, True
                err = VideoEndedEarly(self.name, index, self._announced)
                self.ended_early = str(err)
                raise err
            raise FrameError(
                f"cannot decode frame {index} of {self.name!r} ({self._len} frames announced); "
                f"the file may be truncated or its codec unsupported: re-encode it, e.g. "
                f"ffmpeg -i in -c:v libx264 out.mp4"
            )
        self._pos = index + 1
        self._len = max(self._len, index + 1)  # more frames than the container announced
        frame = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
        self._cache.put(index, frame)
        return frame

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()


class ArrayFrames(FrameSource):
    """Frames already in memory: a ``T×H×W×3`` uint8 array or a sequence of ``H×W×3`` arrays."""

    def __init__(self, frames: Sequence[np.ndarray] | np.ndarray, fps: float | None = None):
        if len(frames) == 0:
            raise FrameError("the frame sequence is empty; pass at least one H×W×3 uint8 frame")
        self._frames = frames
        self.fps = fps
        self.name = f"<{type(frames).__name__} of frames>"
        first = _check_frame(frames[0], "frame 0")
        self.height, self.width = first.shape[:2]

    def __len__(self) -> int:
        return len(self._frames)

    def _read(self, index: int) -> np.ndarray:
        frame = _check_frame(self._frames[index], f"frame {index}")
        if frame.shape[:2] != (self.height, self.width):
            raise FrameError(
                f"frame {index} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is "
                f"{self.width}x{self.height}; all frames of a video must have one size"
            )
        return frame


class IteratorFrames(FrameSource):
    """Frames pulled from a Python iterator, forward only, keeping the last few in a cache.

    The length must be known up front (SAM 2 plans a propagation from it): pass ``num_frames``.
    Frames older than the cache cannot be read again (tracking in reverse needs a file, a folder
    or a sequence).
    """

    def __init__(
        self,
        frames: Iterable[np.ndarray],
        num_frames: int,
        fps: float | None = None,
        cache_size: int = 16,
    ):
        self._it = iter(frames)
        self._len = int(num_frames)
        if self._len <= 0:
            raise FrameError(f"num_frames={num_frames} must be positive")
        self.fps = fps
        self.name = "<iterator of frames>"
        self._next = 0
        self._cache = _Cache(cache_size)
        first = self._read(0)
        self.height, self.width = first.shape[:2]

    def __len__(self) -> int:
        return self._len

    def _read(self, index: int) -> np.ndarray:
        frame = self._cache.get(index)
        if frame is not None:
            return frame
        if index < self._next:
            raise FrameError(
                f"frame {index} was already consumed from the iterator (it keeps the last "
                f"{self._cache.size}); iterator sources are forward-only: use a video file, a "
                f"frame folder or a list of frames to revisit frames"
            )
        while self._next <= index:
            try:
                raw = next(self._it)
            except StopIteration:
                raise FrameError(
                    f"the iterator ended after {self._next} frames but num_frames={self._len}; "
                    f"pass its true length"
                ) from None
            frame = _check_frame(raw, f"frame {self._next}")
            if self._next and frame.shape[:2] != (self.height, self.width):
                raise FrameError(
                    f"frame {self._next} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is "
                    f"{self.width}x{self.height}; all frames of a video must have one size"
                )
            self._cache.put(self._next, frame)
            self._next += 1
        return frame


def count_frames(source: FrameSource) -> int:
    """The frames ``source`` really has: read in order until they end (see
    :meth:`FrameSource.available`); ``len(source)`` says the same afterwards."""
    t = 0
    while source.available(t):
        t += 1
    return t


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one video as :func:`open_frames` reads it: a folder holding image
    frames, a video file (:data:`VIDEO_SUFFIXES`) or a DICOM file (hidden files are not). The one
    rule for what a folder of many videos holds (``samurai track`` over a folder)."""
    path = Path(path)
    if path.name.startswith("."):
        return False
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in path.iterdir())
    if not path.is_file():
        return False
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    from samurai_common import dicom

    return dicom.looks_like_dicom(path)


def open_frames(
    source: Any,
    num_frames: int | None = None,
    fps: float | None = None,
) -> FrameSource:
    """Open a video for lazy, random-access reading.

    Args:
      source: a video file path (decoded with OpenCV), an ultrasound DICOM file (``.dcm``, or
        a suffix-less file with the DICOM preamble; see :mod:`samurai_common.dicom`), a folder of image frames (sorted by the
        numbers in their names), a ``T×H×W×3`` uint8 array or a sequence of ``H×W×3`` uint8 RGB
        arrays, an iterator of such arrays (then ``num_frames`` is required), or a FrameSource.
      num_frames: the length of an iterator source.
      fps: frame rate to report for in-memory sources (files report their own).

    Raises:
      FileNotFoundError: the path does not exist.
      FrameError: empty folder, unreadable video, frames of the wrong shape or type.
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(
                f"video {str(path)!r} does not exist; pass a video file or a folder of frames"
            )
        if path.is_dir():
            return FolderFrames(path)
        from samurai_common import dicom  # pydicom itself loads only for a DICOM file

        if dicom.looks_like_dicom(path):
            return dicom.DicomFrames(path)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise FrameError(
                f"{str(path)!r} is a single image; pass the folder that holds the video's frames"
            )
        return VideoFileFrames(path)
    if isinstance(source, np.ndarray) or (
        isinstance(source, Sequence) and not isinstance(source, (bytes, str))
    ):
        return ArrayFrames(source, fps=fps)
    if isinstance(source, Iterable):
        if num_frames is None:
            raise FrameError(
                "an iterator source needs its length: call open_frames(iterator, num_frames=N), "
                "or pass a list of frames"
            )
        return IteratorFrames(source, num_frames=num_frames, fps=fps)
    raise TypeError(
        f"cannot read frames from a {type(source).__name__}; pass a path, a folder, an array "
        f"or an iterator of H×W×3 uint8 frames"
    )


__all__ = [
    "ArrayFrames",
    "FolderFrames",
    "FrameError",
    "FrameSource",
    "IteratorFrames",
    "VideoEndedEarly",
    "VideoFileFrames",
    "count_frames",
    "open_frames",
    "to_uint8",
]
