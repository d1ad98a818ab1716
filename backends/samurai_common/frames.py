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
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
# PIL modes of one grey channel deeper than 8 bits (16-bit PNG/TIFF, 12-bit-in-16, 32-bit, float):
# PIL's own convert("L"/"RGB") clips them to 255, so they go through to_uint8 instead.
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class FrameError(ValueError):
    """A video or frame that cannot be read; the message names the frame and the fix."""


class VideoEndedEarly(FrameError):
    """A video stopped before the frames it announced: a video file that stops decoding before
    its container's frame count, or a frame folder with a file that cannot be read.

    Common and often harmless (a container's count is an estimate; a download cut short loses
    the tail): every frame before ``frames_read`` was read, and the source's ``len`` is now
    ``frames_read``. Consumers stop there and keep what they have; the message says why.
    """

    def __init__(self, name: str, frames_read: int, frames_announced: int, reason: str | None = None):
        reason = reason or (
            f"{name!r} decodes {frames_read} of the {frames_announced} frames its container "
            f"announces (the file is truncated or damaged at frame {frames_read}); re-encode it to "
            f"recover what is left, e.g. ffmpeg -i in -c:v libx264 out.mp4"
        )
        super().__init__(reason)
        self.frames_read = frames_read
        self.frames_announced = frames_announced


class FrameSource:
    """A video as a random-access sequence of ``H×W×3`` uint8 RGB frames (base class)."""

    height: int
    width: int
    fps: float | None = None
    name: str = "frames"
    ended_early: str | None = None  # why the source stopped before frames_announced, once it has

    def __len__(self) -> int:
        raise NotImplementedError

    def available(self, index: int) -> bool:
        """Whether frame ``index`` can be read; streaming code asks before each frame.

        Sources whose length is only announced (a video file, a frame folder) read the frame
        to find out: past the announced count a video decodes on (``len`` grows), and a frame
        that cannot be read ends the source there (``len`` shrinks to ``index``,
        ``ended_early`` says why). The frame read is cached, so ``source[index]`` costs nothing.
        """
        return 0 <= index < len(self)

    @property
    def frames_announced(self) -> int:
        """The frame count the source announced when opened (a video container's may be
        larger than ``len`` once decoding has ended early, see :class:`VideoEndedEarly`)."""
        return len(self)

    def _read(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, index: int) -> np.ndarray:
        n = len(self)
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an int, got {type(index).__name__}")
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"frame {index} is out of range for {self.name} ({n} frames)")
        return self._read(int(index))

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, frames={len(self)}, "
            f"{self.height}x{self.width}, fps={self.fps})"
        )


class _Cache:
    """A tiny LRU of decoded frames (decoding again costs more than keeping a few)."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, key: int):
        item = self.items.get(key)
        if item is not None:
            self.items.move_to_end(key)
        return item

    def put(self, key: int, value: np.ndarray) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


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


def _check_frame(frame: Any, where: str) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(
            f"{where} has shape {frame.shape}; frames must be H×W×3 RGB "
            f"(for a grey H×W frame use np.repeat(frame[..., None], 3, axis=2))"
        )
    if frame.dtype != np.uint8:
        raise FrameError(
            f"{where} has dtype {frame.dtype}; frames must be uint8 "
            f"(e.g. np.clip(frame * 255, 0, 255).astype(np.uint8) for floats in [0, 1])"
        )
    return frame


def _frame_key(path: Path):
    """Sort numerically when stems are numbers (00009 before 00010, 9 before 10)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem)]


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
            self.ended_early = (f"{err} (the video is taken to end before it: {index} of "
                                f"{len(self.paths)} frames)")
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


def open_frames(
    source: Any,
    num_frames: int | None = None,
    fps: float | None = None,
) -> FrameSource:
    """Open a video for lazy, random-access reading.

    Args:
      source: a video file path (decoded with OpenCV), a folder of image frames (sorted by the
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
