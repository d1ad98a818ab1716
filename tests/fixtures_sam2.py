"""Shared pytest fixtures that build small SAM 2 assets (random-init hiera-tiny at 256 px).

Torch and sam2 are imported inside the fixtures so that core-only test runs never load them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
IMAGE_SIZE = 256


@pytest.fixture(scope="session")
def sam2_tiny_checkpoint(tmp_path_factory):
    """Path of a random-init SAM 2.1 hiera-tiny checkpoint in the official format."""
    torch = pytest.importorskip("torch")
    build_sam = pytest.importorskip("sam2.build_sam")
    torch.manual_seed(0)
    model = build_sam.build_sam2(
        TINY_CONFIG,
        None,
        device="cpu",
        mode="eval",
        hydra_overrides_extra=[f"++model.image_size={IMAGE_SIZE}"],
    )
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path


def make_synthetic_frames(num_frames: int = 8, height: int = 96, width: int = 128, seed: int = 0):
    """``num_frames`` uint8 RGB frames: two bright ellipses moving over a noisy dark background.

    Plain NumPy, so frame-source tests need neither torch nor sam2.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(num_frames):
        img = rng.integers(0, 40, size=(height, width), dtype=np.int32)
        for cx, cy, rx, ry, level in (
            (30 + 4 * t, 40 + t, 16, 12, 220),
            (95 - 3 * t, 60, 10, 14, 160),
        ):
            inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
            img[inside] = level
        frames.append(np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
    return frames


# Boxes (xyxy pixels, frame 0) around the two ellipses of make_synthetic_frames.
SYNTHETIC_BOXES = {1: [14.0, 28.0, 46.0, 52.0], 2: [85.0, 46.0, 105.0, 74.0]}


@pytest.fixture(scope="session")
def synthetic_jpeg_video(tmp_path_factory):
    """A folder of 8 JPEG frames named ``00000.jpg``... (SAM 2's layout) of a synthetic video."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("jpeg_video")
    for i, frame in enumerate(make_synthetic_frames()):
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg", quality=95)
    return folder


def cut_avi(path, keep: int) -> None:
    """Cut an MJPG AVI written by OpenCV where frame ``keep``'s data begins (a download cut
    short): its header still announces every frame, the first ``keep`` still decode."""
    data = Path(path).read_bytes()
    end = data.rfind(b"idx1")
    starts, at = [], data.find(b"00dc", data.find(b"movi"), end)  # the frames' chunks in 'movi'
    while at >= 0:
        starts.append(at)
        at = data.find(b"00dc", at + 4, end)
    Path(path).write_bytes(data[: starts[keep]])


def _write_mjpg_avi(path, frames, fps: float) -> None:
    """``frames`` (``H×W×3`` uint8 RGB) as an MJPG AVI written by OpenCV."""
    import cv2
    import numpy as np

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    writer.release()


def _read_back(path):
    """``(announced, decoded RGB frames)`` of a video as OpenCV itself reads it."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    decoded = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return announced, decoded


def write_truncated_avi(path, frames, fps: float = 10.0):
    """Write ``frames`` (``H×W×3`` uint8 RGB) as an MJPG AVI with OpenCV, then cut the file off
    where the last frame's data begins, as a download cut short would: the container still
    announces every frame (its header), the last one no longer decodes.

    Returns ``(announced, decoded RGB frames)`` as OpenCV itself reads the cut file.
    """
    _write_mjpg_avi(path, frames, fps)
    data = Path(path).read_bytes()
    last_chunk = data.rfind(b"00dc", 0, data.rfind(b"idx1"))  # the last frame's chunk in 'movi'
    Path(path).write_bytes(data[:last_chunk])
    return _read_back(path)


def write_underannounced_avi(path, frames, announced: int, fps: float = 10.0):
    """Write ``frames`` (``H×W×3`` uint8 RGB) as an MJPG AVI with OpenCV, then patch the video
    stream header's length (``strh.dwLength``, what FFmpeg reports as the frame count) down to
    ``announced``: a real file whose container announces fewer frames than it holds.

    Returns ``(announced, decoded RGB frames)`` as OpenCV itself reads the patched file.
    """
    import struct

    _write_mjpg_avi(path, frames, fps)
    data = bytearray(Path(path).read_bytes())
    strh = data.find(b"strh")  # chunk id, size, then fccType .. dwStart (32 bytes), dwLength
    assert data[strh + 8 : strh + 12] == b"vids"
    data[strh + 40 : strh + 44] = struct.pack("<I", announced)
    Path(path).write_bytes(bytes(data))
    return _read_back(path)


@pytest.fixture
def single_torch_thread():
    """Run SAM 2 on one intra-op thread in these tests.

    The tests' inputs are tiny (256 px, a few objects), so a second thread gains little; on a
    shared 2-core machine its spin-waiting made the runs 3x slower in wall time and in CPU time.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
