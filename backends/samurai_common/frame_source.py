"""The frame-source contract every reader implements (``FrameSource``), its errors and a small
frame cache: a module of its own so that readers in other modules (``samurai_common.dicom``)
and the dispatcher in ``samurai_common.frames`` import it without importing each other.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np


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
