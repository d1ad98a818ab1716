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
