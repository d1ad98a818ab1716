"""Which files ``samurai track DIR`` takes for many videos: every kind the frame reader opens."""

from pathlib import Path

import pytest


def test_a_folder_of_any_video_kind_the_reader_opens_is_many_videos(tmp_path):
    pytest.importorskip("cv2")
    from samurai.track_many import is_many, list_videos

    pytest.importorskip("pydicom")
    from samurai.dicom.synthetic import echo_frames, write_ultrasound
    from samurai_common.dicom import DICOM_SUFFIXES
    from samurai_common.frames import VIDEO_SUFFIXES

    for suffix in VIDEO_SUFFIXES:
        folder = tmp_path / suffix.strip(".")
        folder.mkdir()
        if suffix in DICOM_SUFFIXES:  # a DICOM is looked into: only a cine is a video
            write_ultrasound(folder / f"clip{suffix.upper()}", echo_frames(2, (16, 16)))
        else:
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
    import numpy as np
    from PIL import Image

    from samurai.track_many import is_many, list_videos
    from samurai_common.frames import is_video, open_frames

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


def test_a_dicom_export_is_many_videos_named_by_path_never_by_patient(tmp_path, capsys):
    """A DICOMDIR-style export: IM0001 of two series stay apart, named by their path under the
    folder; a single image and a cut-off file are skipped with one line each on stderr."""
    pytest.importorskip("pydicom")
    from pydicom import dcmread

    from samurai.dicom.privacy import identifying_values
    from samurai.dicom.synthetic import echo_frames, write_ultrasound
    from samurai.track_many import case_name, is_many, list_videos

    root = tmp_path / "export"
    a = write_ultrasound(root / "DICOM" / "ST000" / "SE000" / "IM0001", echo_frames(2, (16, 16)))
    b = write_ultrasound(root / "DICOM" / "ST000" / "SE001" / "IM0001", echo_frames(3, (16, 16)))
    write_ultrasound(root / "DICOM" / "ST000" / "SE001" / "IM0002", echo_frames(1, (16, 16)))
    cut = root / "DICOM" / "ST000" / "SE002" / "IM0001"
    cut.parent.mkdir()
    cut.write_bytes(a.read_bytes()[:700])
    assert is_many(root) and not is_many(a)
    assert list_videos(root) == [a, b]
    skipped = capsys.readouterr().err.splitlines()
    assert len(skipped) == 2 and "IM0002" in skipped[0] and "single image" in skipped[0]
    assert "SE002" in skipped[1] and "truncated" in skipped[1]
    names = [case_name(p, root) for p in (a, b)]
    assert names == ["DICOM_ST000_SE000_IM0001", "DICOM_ST000_SE001_IM0001"]
    for value in identifying_values(dcmread(a)):
        assert all(value.lower() not in n.lower() for n in names)
