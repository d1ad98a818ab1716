"""Which files ``samurai track DIR`` takes for many videos: every kind the frame reader opens."""

from pathlib import Path

import pytest


def test_a_folder_of_any_video_kind_the_reader_opens_is_many_videos(tmp_path):
    pytest.importorskip("cv2")
    from samurai.track_many import is_many, list_videos
    from samurai_common.frames import VIDEO_SUFFIXES

    for suffix in VIDEO_SUFFIXES:
        folder = tmp_path / suffix.strip(".")
        folder.mkdir()
        (folder / f"clip{suffix.upper()}").write_bytes(b"")
        (folder / "notes.txt").write_text("not a video")
        assert is_many(folder), suffix
        assert list_videos(folder) == [folder / f"clip{suffix.upper()}"], suffix
    assert ".webm" in VIDEO_SUFFIXES  # the case that `track DIR` used to miss


def test_a_folder_of_frames_is_one_video(tmp_path):
    from samurai.track_many import is_many

    (tmp_path / "00000.png").write_bytes(b"")
    (tmp_path / "clip.webm").write_bytes(b"")
    assert not is_many(tmp_path)
    assert not is_many(Path(tmp_path / "absent"))


def test_frame_folders_are_videos_as_for_one_video(tmp_path):
    """A folder of frame folders (and video files) is many videos, listed with the frame
    folders, by the rule that decides what `track PATH` reads as one video: a folder with image
    frames is one, a folder without (or a hidden one) is not."""
    from samurai.track_many import is_many, list_videos
    from samurai_common.frames import is_video, open_frames
    from PIL import Image

    import numpy as np

    for name in ("echo1", "echo2"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / name / "00000.png")
    (tmp_path / "clip.webm").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / ".cache").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / ".cache" / "00000.png")
    (tmp_path / "notes.txt").write_text("not a video")
    assert is_many(tmp_path)
    assert list_videos(tmp_path) == [tmp_path / "clip.webm", tmp_path / "echo1", tmp_path / "echo2"]
    assert len(open_frames(tmp_path / "echo1")) == 1  # what is listed, the single-video path opens
    assert not is_video(tmp_path / "empty") and not is_many(tmp_path / "echo1")
