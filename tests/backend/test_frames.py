"""Frame sources: every kind reads the same pixels, lazily; bad inputs fail with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures_sam2 import make_synthetic_frames, write_truncated_avi, write_underannounced_avi
from PIL import Image

from samurai_common.frames import (
    ArrayFrames,
    FolderFrames,
    FrameError,
    IteratorFrames,
    VideoEndedEarly,
    VideoFileFrames,
    count_frames,
    open_frames,
)


@pytest.fixture(scope="module")
def frames():
    return make_synthetic_frames(num_frames=6)


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory, frames):
    folder = tmp_path_factory.mktemp("png")
    # Unpadded numeric names: 10 must sort after 9 (plain string order would not).
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i * 5}.png")
    return folder


def test_folder_reads_lossless_frames_in_numeric_order(png_folder, frames):
    src = open_frames(png_folder)
    assert isinstance(src, FolderFrames)
    assert [p.stem for p in src.paths] == ["0", "5", "10", "15", "20", "25"]
    assert (len(src), src.height, src.width, src.fps) == (6, 96, 128, None)
    for i in (3, 0, 5, -1):
        np.testing.assert_array_equal(src[i], frames[i])
    assert sum(1 for _ in src) == 6


def test_video_file_matches_its_own_decoding_and_seeks(tmp_path, frames):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (128, 96))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    # Reference: decode the whole file sequentially with OpenCV.
    cap = cv2.VideoCapture(str(path))
    expected = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        expected.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    src = open_frames(path)
    assert isinstance(src, VideoFileFrames)
    assert (len(src), src.height, src.width) == (6, 96, 128)
    assert src.fps == pytest.approx(25.0)
    for i in (0, 1, 4, 2, 5, 3):  # forward, backward and forward again: seeks
        np.testing.assert_array_equal(src[i], expected[i])
    # MJPG is lossy, but the content is close to the source frames.
    assert np.abs(src[2].astype(int) - frames[2].astype(int)).mean() < 6


def test_video_that_ends_before_its_announced_count(tmp_path, frames):
    """The container's count is an estimate: reading in order stops at the last decodable frame,
    whose pixels are OpenCV's own, and ``len`` becomes the frames read."""
    pytest.importorskip("cv2")
    path = tmp_path / "cut.avi"
    announced, decoded = write_truncated_avi(path, frames)
    assert (announced, len(decoded)) == (len(frames), len(frames) - 1)
    src = open_frames(str(path))
    assert (len(src), src.frames_announced) == (announced, announced)
    for i, expected in enumerate(decoded):
        np.testing.assert_array_equal(src[i], expected)
    with pytest.raises(VideoEndedEarly, match=f"decodes {len(decoded)} of the {announced}") as info:
        src[len(decoded)]
    assert (info.value.frames_read, info.value.frames_announced) == (len(decoded), announced)
    assert (len(src), src.frames_announced) == (len(decoded), announced)
    assert len(list(src)) == len(decoded)


def test_video_that_holds_more_frames_than_it_announces(tmp_path, frames):
    """A container that under-announces (its stream header patched to 3 of the 6 frames): the
    source streams on past the announced count, with OpenCV's own pixels, and ends where
    decoding ends."""
    pytest.importorskip("cv2")
    path = tmp_path / "under.avi"
    announced, decoded = write_underannounced_avi(path, frames, announced=3)
    assert (announced, len(decoded)) == (3, len(frames))  # the premise, read with OpenCV itself
    src = open_frames(str(path))
    assert (len(src), src.frames_announced) == (3, 3)
    t = 0
    while src.available(t):
        np.testing.assert_array_equal(src[t], decoded[t])
        t += 1
    assert t == len(decoded) and (len(src), src.frames_announced, src.ended_early) == (6, 3, None)
    assert not src.available(6) and not src.available(7) and len(src) == 6
    assert count_frames(open_frames(str(path))) == 6


def test_video_that_ends_early_says_so_through_available(tmp_path, frames):
    pytest.importorskip("cv2")
    path = tmp_path / "cut.avi"
    announced, decoded = write_truncated_avi(path, frames)
    src = open_frames(str(path))
    assert count_frames(src) == len(decoded) == len(src) and src.frames_announced == announced
    assert f"decodes {len(decoded)} of the {announced}" in src.ended_early


def test_folder_with_an_unreadable_frame_ends_before_it(tmp_path, frames):
    """A frame file that does not decode (or has another size) in the middle of a folder: the
    frames before it stand and the source ends there, naming the file; frame 0 unreadable is
    an error."""
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"{i:05d}.png")
    (tmp_path / "00003.png").write_bytes(b"not a png")
    src = open_frames(tmp_path)
    assert (len(src), src.frames_announced) == (6, 6)
    assert [src.available(t) for t in range(5)] == [True, True, True, False, False]
    for t in range(3):
        np.testing.assert_array_equal(src[t], frames[t])
    assert (len(src), src.frames_announced) == (3, 6)
    assert "00003.png" in src.ended_early and "3 of 6 frames" in src.ended_early
    with pytest.raises(IndexError):
        src[3]
    Image.fromarray(frames[0][:50]).save(tmp_path / "00003.png")  # another size: the same
    other = open_frames(tmp_path)
    assert count_frames(other) == 3 and "one size" in other.ended_early
    (tmp_path / "00000.png").write_bytes(b"broken")
    with pytest.raises(FrameError, match="00000.png"):
        open_frames(tmp_path)


def test_arrays_and_iterators(frames):
    seq = open_frames(np.stack(frames), fps=30.0)
    assert isinstance(seq, ArrayFrames) and seq.fps == 30.0 and len(seq) == 6
    np.testing.assert_array_equal(seq[4], frames[4])
    it = open_frames(iter(frames), num_frames=6)
    assert isinstance(it, IteratorFrames)
    np.testing.assert_array_equal(it[0], frames[0])
    np.testing.assert_array_equal(it[5], frames[5])
    np.testing.assert_array_equal(it[4], frames[4])  # still cached
    small = IteratorFrames(iter(frames), num_frames=6, cache_size=2)
    small[5]
    with pytest.raises(FrameError, match="already consumed.*forward-only"):
        small[1]


def test_iterator_errors(frames):
    with pytest.raises(FrameError, match="num_frames=N"):
        open_frames(f for f in frames)
    with pytest.raises(FrameError, match="ended after 6 frames"):
        open_frames(iter(frames), num_frames=8)[7]


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_frames(tmp_path / "nope.mp4")
    (tmp_path / "notes.txt").write_text("not a frame")
    with pytest.raises(FrameError, match="no image frames in folder.*ffmpeg"):
        open_frames(tmp_path)


def test_unreadable_frame_is_named(tmp_path, frames):
    for i, frame in enumerate(frames[:3]):
        Image.fromarray(frame).save(tmp_path / f"{i:05d}.jpg")
    (tmp_path / "00001.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    src = open_frames(tmp_path)
    with pytest.raises(FrameError, match=r"cannot read frame 1 .*00001\.jpg.*re-export or remove"):
        src[1]


def test_unopenable_video(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"definitely not a video" * 10)
    with pytest.raises(FrameError, match="cannot open video .*ffmpeg"):
        open_frames(path)


def test_bad_arrays(frames):
    with pytest.raises(FrameError, match="must be uint8"):
        open_frames([f.astype(np.float32) for f in frames])
    with pytest.raises(FrameError, match=r"H×W×3 RGB .*np.repeat"):
        open_frames([f[..., 0] for f in frames])
    with pytest.raises(FrameError, match="empty"):
        open_frames([])
    mixed = [frames[0], frames[1][:50]]
    with pytest.raises(FrameError, match="all frames of a video must have one size"):
        open_frames(mixed)[1]


def test_opening_a_video_loads_no_torch(tmp_path, png_folder, frames):
    """The package and its frame reader are torch-free: a fresh interpreter opens a frame folder
    and a video file, reads a frame of each, and has not imported torch (its torch helpers
    still resolve on demand, which then does load it)."""
    cv2 = pytest.importorskip("cv2")
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (128, 96))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    script = (
        "import sys\n"
        "import samurai_common\n"
        f"folder = samurai_common.open_frames({str(png_folder)!r})\n"
        f"video = samurai_common.open_frames({str(video)!r})\n"
        "assert folder[2].shape == video[2].shape == (96, 128, 3), (folder[2].shape, video[2].shape)\n"
        "assert len(folder) == len(video) == 6\n"
        "assert 'torch' not in sys.modules, 'opening a video imported torch'\n"
        "assert callable(samurai_common.boxes_from_masks) and 'torch' in sys.modules\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}:{root / 'backends'}"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
