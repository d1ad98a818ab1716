"""Output writers: atomic files, all-or-nothing output folders, box files, videos."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samurai import drawing, formats, output, video_writers


def test_output_dir_appears_complete_with_manifest_last(tmp_path):
    target = tmp_path / "run"
    with output.OutputDir(target, info={"command": "test"}) as out:
        assert out.path != target and out.path.name.startswith("run.partial-")
        assert not target.exists()
        (out.path / "sub").mkdir()
        output.atomic_write_text(out.path / "sub" / "a.txt", "x")
    manifest = json.loads((target / output.MANIFEST).read_text())
    assert manifest["complete"] is True and manifest["command"] == "test"
    assert manifest["files"] == ["sub/a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial left
    assert (target / "sub" / "a.txt").stat().st_mode & 0o044  # readable like a normal file


def test_output_dir_failure_leaves_nothing(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        with output.OutputDir(target) as out:
            (out.path / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_output_dir_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "run"
    with output.OutputDir(target) as out:
        (out.path / "old.txt").write_text("old")
    with pytest.raises(output.OutputError, match="--force"):
        output.OutputDir(target)
    with output.OutputDir(target, force=True) as out:
        (out.path / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_output_dir_force_replaces_only_its_own_or_empty_folders(tmp_path):
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("years of work")
    (foreign / "manifest.json").write_text('{"complete": "maybe"}')  # not ours
    with pytest.raises(output.OutputError, match="did not write"):
        output.OutputDir(foreign, force=True)
    assert (foreign / "chapter1.tex").read_text() == "years of work"
    plain = tmp_path / "notes.txt"
    plain.write_text("keep")
    with pytest.raises(output.OutputError, match="is a file"):
        output.OutputDir(plain, force=True)
    assert plain.read_text() == "keep"
    empty = tmp_path / "empty"
    empty.mkdir()
    with output.OutputDir(empty, force=True) as out:
        (out.path / "a.txt").write_text("a")
    assert (empty / "a.txt").is_file()
    # A manifest of an earlier version (no "tool" key) still marks the folder as ours.
    old = tmp_path / "old_run"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"complete": True, "files": ["x.png"]}))
    with output.OutputDir(old, force=True) as out:
        (out.path / "b.txt").write_text("b")
    assert sorted(p.name for p in old.iterdir()) == ["b.txt", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes.txt", "old_run", "thesis"]


def test_output_dir_refuses_the_working_directory_and_its_parents(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for out in (".", "..", str(tmp_path), "../b"):
        with pytest.raises(output.OutputError, match="working directory"):
            output.OutputDir(out, force=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b"]


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_output_dir_sweeps_partial_folders_of_dead_processes_only(tmp_path, capsys):
    import socket

    target = tmp_path / "run"
    with output.OutputDir(target) as out:
        (out.path / "result.txt").write_text("earlier result")
    dead = tmp_path / "run.partial-dead1"
    dead.mkdir()
    (dead / output.PARTIAL_MARKER).write_text(
        json.dumps({"tool": "samurai", "host": socket.gethostname(), "pid": _dead_pid(), "start": None})
    )
    alive = tmp_path / "run.partial-live1"  # this very process: still running
    alive.mkdir()
    (alive / output.PARTIAL_MARKER).write_text(
        json.dumps({"tool": "samurai", "host": socket.gethostname(), "pid": os.getpid(), "start": None})
    )
    unmarked = tmp_path / "run.partial-user"  # not ours: no marker
    unmarked.mkdir()
    (unmarked / "data.txt").write_text("x")
    with output.OutputDir(tmp_path / "other") as out:  # another --out: its neighbours are not touched
        pass
    assert dead.exists()
    with pytest.raises(RuntimeError):
        with output.OutputDir(target, force=True):
            raise RuntimeError("failed run")
    assert "removed" in capsys.readouterr().err and not dead.exists()
    assert alive.exists() and (unmarked / "data.txt").exists()
    assert (target / "result.txt").read_text() == "earlier result"


def test_output_dir_restores_a_run_moved_aside_by_a_killed_process(tmp_path, capsys):
    import socket

    target = tmp_path / "run"
    aside = tmp_path / "run.old-abc"
    (aside / "previous").mkdir(parents=True)
    (aside / "previous" / "result.txt").write_text("earlier result")
    (aside / output.PARTIAL_MARKER).write_text(
        json.dumps({"tool": "samurai", "host": socket.gethostname(), "pid": _dead_pid(), "start": None})
    )
    with pytest.raises(output.OutputError, match="already exists"):
        output.OutputDir(target)  # the sweep put the earlier run back first
    assert "restored" in capsys.readouterr().err
    assert (target / "result.txt").read_text() == "earlier result" and not aside.exists()


def test_output_dir_names_a_full_disk_and_an_unwritable_folder(tmp_path):
    import errno

    target = tmp_path / "run"
    with pytest.raises(output.OutputError, match="No space left.*left on that file system"):
        with output.OutputDir(target) as out:
            (out.path / "a.bin").write_bytes(b"x" * 2048)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert list(tmp_path.iterdir()) == []
    if os.path.isdir("/sys/kernel"):  # sysfs refuses new folders, even to root
        with pytest.raises(output.OutputError, match="cannot write output folder /sys"):
            output.OutputDir("/sys/samurai-test-out/run")


@pytest.fixture
def small_disk(tmp_path):
    """A real 64 KiB file system (tmpfs) to fill up, where mounting one is allowed (root)."""
    import shutil
    import subprocess

    point = tmp_path / "disk"
    point.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs permission to mount a small tmpfs")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_mp4_writer_reports_a_full_disk(small_disk, tmp_path):
    """OpenCV's MP4 writer reports no error when the disk fills up (it leaves a file without
    its index); MP4Writer finds the short file when it closes and raises ENOSPC, leaving
    nothing behind. The same frames on a disk with room make a full video."""
    import errno

    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(30)]  # ~180 KB
    writer = video_writers.MP4Writer(small_disk / "overlay.mp4", fps=10)
    for f in frames:
        writer.write(f)  # no error here: the frames are lost silently
    with pytest.raises(OSError) as info:
        writer.close()
    assert info.value.errno == errno.ENOSPC and "of 30 frames" in str(info.value)
    assert list(small_disk.iterdir()) == []
    video_writers.write_mp4(tmp_path / "ok.mp4", frames, fps=10)
    capture = cv2.VideoCapture(str(tmp_path / "ok.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    capture.release()


def test_atomic_write_leaves_no_temp_on_error(tmp_path, monkeypatch):
    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        output.atomic_write_text(tmp_path / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_lasot_boxes_round_trip(tmp_path):
    """Mask boxes (inclusive corners) are written as pixel counts: w = x_max - x_min + 1."""
    xyxy = np.array([[10, 20, 30, 60], [0, 0, 0, 0], [1.5, 2.5, 4.0, 8.0], [7, 3, 7, 3]], np.float32)
    formats.write_lasot_boxes(tmp_path / "b.txt", xyxy)
    assert (tmp_path / "b.txt").read_text().splitlines() == [
        "10,20,21,41",
        "0,0,0,0",
        "1.5,2.5,3.5,6.5",
        "7,3,1,1",
    ]
    np.testing.assert_allclose(
        formats.read_lasot_boxes(tmp_path / "b.txt"),
        [[10, 20, 21, 41], [0, 0, 0, 0], [1.5, 2.5, 3.5, 6.5], [7, 3, 1, 1]],
    )
    (tmp_path / "bad.txt").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="bad.txt:1: expected 4 numbers"):
        formats.read_lasot_boxes(tmp_path / "bad.txt")


def test_mask_png_round_trip_and_rgb_refused(tmp_path):
    labels = np.zeros((6, 7), np.uint8)
    labels[1:3, 2:5] = 2
    formats.write_png(tmp_path / "m.png", labels)
    np.testing.assert_array_equal(formats.read_mask_png(tmp_path / "m.png"), labels)
    Image.fromarray(np.zeros((6, 7, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="single-channel"):
        formats.read_mask_png(tmp_path / "rgb.png")


@pytest.mark.parametrize("dtype", ["<u2", ">u2"], ids=["I;16", "I;16B"])
def test_sixteen_bit_masks_are_ids_in_either_byte_order(tmp_path, dtype):
    """A 16-bit label image (little- or big-endian, as TIFF writers save it) holds ids, kept as
    they are (not scaled as grey levels); an id above 255 is refused."""
    labels = np.zeros((6, 7), np.uint8)
    labels[1:3, 2:5], labels[4, 0] = 2, 255
    Image.fromarray(labels.astype(dtype)).save(tmp_path / "m.tif")
    with Image.open(tmp_path / "m.tif") as im:
        assert im.mode == ("I;16B" if dtype == ">u2" else "I;16")
    np.testing.assert_array_equal(formats.read_mask_png(tmp_path / "m.tif"), labels)
    Image.fromarray((labels.astype(np.uint16) * 2).astype(dtype)).save(tmp_path / "big.tif")
    with pytest.raises(ValueError, match="above 255"):
        formats.read_mask_png(tmp_path / "big.tif")


def test_prompt_csv_saved_with_a_byte_order_mark_reads(tmp_path):
    """A spreadsheet's "CSV UTF-8" starts with a byte-order mark; the header is still found."""
    from samurai.prompts import read_boxes

    text = "video,obj_id,x1,y1,x2,y2\nclip,1,1,2,30,40\n"
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_boxes(tmp_path / "b.csv") == {"clip": [(1, (1.0, 2.0, 30.0, 40.0))]}


def test_csv_formats_nan_as_empty(tmp_path):
    formats.write_csv(tmp_path / "s.csv", [{"a": 1, "b": float("nan"), "c": np.float32(0.5)}])
    assert (tmp_path / "s.csv").read_text() == "a,b,c\n1,,0.5\n"


def test_overlay_tints_and_outlines_objects():
    frame = np.full((8, 8), 100, np.uint8)
    labels = np.zeros((8, 8), np.uint8)
    labels[2:6, 2:6] = 1
    out = drawing.overlay(frame, labels)
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])
    np.testing.assert_array_equal(out[2, 2], drawing.PALETTE[0])  # outline in the object's colour
    assert not np.array_equal(out[3, 3], [100, 100, 100])


def test_gif_and_mp4_are_readable(tmp_path):
    import imageio.v2 as imageio

    frames = [np.full((16, 24, 3), 40 * i, np.uint8) for i in range(4)]
    video_writers.write_gif(tmp_path / "a.gif", frames, fps=5)
    gif = imageio.mimread(tmp_path / "a.gif")
    assert len(gif) == 4 and gif[0].shape[:2] == (16, 24)
    if not video_writers.mp4_available():
        pytest.skip("no MP4 encoder installed")
    import cv2

    video_writers.write_mp4(tmp_path / "a.mp4", frames, fps=5)
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    cap.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "a.mp4"]


def test_output_dir_interrupted_while_replacing_keeps_the_earlier_run(tmp_path, monkeypatch):
    target = tmp_path / "run"
    with output.OutputDir(target) as out:
        (out.path / "result.txt").write_text("earlier result")
    real_replace = os.replace

    def interrupted(src, dst):  # Ctrl-C just as the new run is moved into place
        if Path(src).name.startswith("run.partial-"):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with output.OutputDir(target, force=True) as out:
            (out.path / "result.txt").write_text("new result")
    monkeypatch.undo()
    assert (target / "result.txt").read_text() == "earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
