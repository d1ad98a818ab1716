"""Bad input to `samurai track`, `eval` and `demo`, one table row per mistake a user can make.

Every row must end with exit status 2, a message that names the problem and the fix, no
traceback, and the working folder byte-for-byte as it was: no partial output, the earlier
result (``earlier/``, a finished `track` run) and the user's own files untouched.
"""

import errno
import json
import os

import numpy as np
import pytest
from PIL import Image
from user_errors import assert_user_error, leftovers, run_cli, tree_digest

pytestmark = pytest.mark.slow

BOX = "6,8,30,44"


@pytest.fixture(scope="module")
def world(tmp_path_factory, sam2_tiny_checkpoint):
    """A working folder with inputs, an earlier result and a user's own files (see the rows)."""
    from samurai.data.synthetic import write_generic
    from samurai_phantom import make_phantom

    root = tmp_path_factory.mktemp("world")
    ph = make_phantom(n_frames=3, size=64, dropout=None)
    frames = root / "frames"
    frames.mkdir()
    for t, f in enumerate(ph.frames):
        Image.fromarray(f).convert("RGB").save(frames / f"{t:05d}.png")
    Image.fromarray(ph.masks[0]).save(root / "mask.png")
    (root / "first_bad").mkdir()  # frame 0 does not decode: nothing to prompt on
    (root / "first_bad" / "00000.png").write_bytes(b"not a png")
    for t, f in enumerate(ph.frames[1:], 1):
        Image.fromarray(f).convert("RGB").save(root / "first_bad" / f"{t:05d}.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / "mask_empty.png")
    Image.fromarray(np.zeros((32, 48), np.uint8) + 1).save(root / "mask_small.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 1).save(root / "mask_rgb.png")
    (root / "garbage.mp4").write_bytes(b"this is not a video" * 100)
    (root / "no_images").mkdir()
    (root / "no_images" / "readme.txt").write_text("no frames here")
    (root / "thesis").mkdir()
    (root / "thesis" / "chapter1.tex").write_text("years of work")
    (root / "notes.txt").write_text("a plain file")
    (root / "cwd").mkdir()
    (root / "locked").mkdir()  # writes under it are refused (see _deny_writes_under)

    # Echo data in the generic layout: one good copy, then one mistake per copy.
    write_generic(root / "generic_ok", n_videos=2, n_frames=3)
    write_generic(root / "generic_bad", n_videos=2, n_frames=3)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(
        root / "generic_bad" / "video00" / "masks" / "00002.png"
    )
    Image.fromarray(np.ones((64, 56), np.uint8)).save(
        root / "generic_bad" / "video01" / "masks" / "00007.png"
    )
    # A frames folder whose frame 1 is corrupt and whose only label is on frame 2 (frame 0's mask
    # removed): the case ends before its one labelled frame, so nothing can be prompted.
    write_generic(root / "generic_cut", n_videos=1, n_frames=3)
    (root / "generic_cut" / "video00" / "masks" / "00000.png").unlink()
    (root / "generic_cut" / "video00" / "frames" / "00001.png").write_bytes(b"not a png")
    write_generic(root / "generic_empty", n_videos=1, n_frames=3)
    for m in (root / "generic_empty" / "video00" / "masks").iterdir():
        Image.fromarray(np.zeros((64, 56), np.uint8)).save(m)

    # LaSOT-style: sequence a has a non-numeric line, sequence b one box too few.
    for name, lines in {
        "a": ["1,2,10,10", "1,2,x,10", "1,2,10,10"],
        "b": ["1,2,10,10", "1,2,10,10"],
        "c": ["0,0,0,0", "1,2,10,10", "1,2,10,10"],
    }.items():
        seq = root / "lasot" / name
        (seq / "img").mkdir(parents=True)
        for t, f in enumerate(ph.frames):
            Image.fromarray(f).convert("RGB").save(seq / "img" / f"{t + 1:08d}.jpg")
        (seq / "groundtruth.txt").write_text("\n".join(lines) + "\n")

    # Many videos: a list of one frame folder and one missing video, and prompt CSVs.
    (root / "videos.txt").write_text("frames\n")
    (root / "videos_missing.txt").write_text("frames\nnope.avi\n")
    (root / "boxes.csv").write_text(f"video,obj_id,x1,y1,x2,y2\nframes,1,{BOX}\n")
    (root / "boxes_header.csv").write_text(f"name,x1,y1,x2,y2\nframes,{BOX}\n")
    (root / "boxes_other.csv").write_text(f"video,obj_id,x1,y1,x2,y2\nother,1,{BOX}\n")
    (root / "boxes_outside.csv").write_text("video,obj_id,x1,y1,x2,y2\nframes,1,0,0,500,40\n")
    (root / "boxes_words.csv").write_text("video,obj_id,x1,y1,x2,y2\nframes,one,1,2,3,4\n")
    (root / "mine.cases").mkdir()
    (root / "mine.cases" / "chapter2.tex").write_text("more years of work")

    earlier = run_cli(
        [
            "track",
            frames,
            "--box",
            BOX,
            "--checkpoint",
            sam2_tiny_checkpoint,
            "--image-size",
            "256",
            "--no-video",
            "--out",
            root / "earlier",
        ]
    )
    assert earlier.code == 0, earlier.stderr
    return root


TRACK = ["track", "{root}/frames", "--checkpoint", "{ckpt}", "--image-size", "256", "--no-video"]
EVAL = ["eval", "--checkpoint", "{ckpt}", "--image-size", "256"]
MANY = ["track", "--checkpoint", "{ckpt}", "--image-size", "256", "--no-video"]

# (id, command line, words the message must contain: the problem and the fix)
CASES = [
    # ---- track: inputs
    (
        "track-video-missing",
        ["track", "{root}/nope.mp4", "--box", BOX, "--random-weights", "--out", "{root}/o"],
        ["does not exist", "video file"],
    ),
    (
        "track-video-garbage",
        ["track", "{root}/garbage.mp4", "--box", BOX, "--random-weights", "--out", "{root}/o"],
        ["cannot open video", "ffmpeg"],
    ),
    (
        "track-folder-without-frames",
        ["track", "{root}/no_images", "--box", BOX, "--random-weights", "--out", "{root}/o"],
        ["no image frames", "extract frames"],
    ),
    (
        "track-first-frame-unreadable",
        ["track", "{root}/first_bad", "--box", BOX, "--random-weights", "--out", "{root}/o"],
        ["cannot read frame 0", "00000.png", "re-export or remove that file"],
    ),
    ("track-no-prompt", [*TRACK, "--out", "{root}/o"], ["--box", "--mask", "not neither"]),
    (
        "track-box-and-mask",
        [*TRACK, "--box", BOX, "--mask", "{root}/mask.png", "--out", "{root}/o"],
        ["not both"],
    ),
    (
        "track-box-not-four-numbers",
        [*TRACK, "--box", "1,2,3", "--out", "{root}/o"],
        ["not 4 numbers", "X1,Y1,X2,Y2"],
    ),
    ("track-box-xywh", [*TRACK, "--box", "30,30,10,10", "--out", "{root}/o"], ["empty", "not X,Y,W,H"]),
    ("track-box-outside-frame", [*TRACK, "--box", "0,0,500,40", "--out", "{root}/o"], ["outside", "64x64"]),
    (
        "track-mask-missing",
        [*TRACK, "--mask", "{root}/nope.png", "--out", "{root}/o"],
        ["does not exist", "PNG label mask"],
    ),
    (
        "track-mask-wrong-size",
        [*TRACK, "--mask", "{root}/mask_small.png", "--out", "{root}/o"],
        ["48x32", "video's resolution"],
    ),
    (
        "track-mask-empty",
        [*TRACK, "--mask", "{root}/mask_empty.png", "--out", "{root}/o"],
        ["empty", "paint each object"],
    ),
    ("track-mask-rgb", [*TRACK, "--mask", "{root}/mask_rgb.png", "--out", "{root}/o"], ["single-channel"]),
    (
        "track-no-checkpoint",
        ["track", "{root}/frames", "--box", BOX, "--out", "{root}/o"],
        ["needs weights", "--checkpoint"],
    ),
    (
        "track-checkpoint-missing",
        ["track", "{root}/frames", "--box", BOX, "--checkpoint", "{root}/nope.pt", "--out", "{root}/o"],
        ["does not exist", ".pt"],
    ),
    (
        "track-noise-missing",
        [*TRACK, "--box", BOX, "--noise", "{root}/nope.json", "--out", "{root}/o"],
        ["noise file", "samurai calibrate"],
    ),
    # ---- track: the output folder
    ("track-out-exists", [*TRACK, "--box", BOX, "--out", "{root}/earlier"], ["already exists", "--force"]),
    (
        "track-force-over-foreign-folder",
        [*TRACK, "--box", BOX, "--force", "--out", "{root}/thesis"],
        ["thesis", "did not write", "choose another --out"],
    ),
    (
        "track-force-over-plain-file",
        [*TRACK, "--box", BOX, "--force", "--out", "{root}/notes.txt"],
        ["notes.txt", "is a file", "choose another --out"],
    ),
    (
        "track-out-working-directory",
        [*TRACK, "--box", BOX, "--force", "--out", "."],
        ["working directory", "folder of its own"],
    ),
    (
        "track-out-parent-of-working-directory",
        [*TRACK, "--box", BOX, "--force", "--out", ".."],
        ["working directory", "folder of its own"],
    ),
    (
        "track-out-unwritable",
        [*TRACK, "--box", BOX, "--out", "/sys/samurai-test-out/run"],
        ["cannot write output folder", "folder you can write to"],
    ),
    (
        "track-disk-full",
        [*TRACK, "--box", BOX, "--force", "--out", "{root}/earlier"],
        ["No space left", "left on that file system", "free some space"],
    ),
    (
        "track-disk-full-overlay-mp4",
        [
            "track",
            "{root}/frames",
            "--checkpoint",
            "{ckpt}",
            "--image-size",
            "256",
            "--box",
            BOX,
            "--force",
            "--out",
            "{root}/earlier",
        ],
        ["No space left", "1 of 3 frames into overlay.mp4", "left on that file system", "free some space"],
    ),
    (
        "track-out-under-a-file",
        [*TRACK, "--box", BOX, "--out", "{root}/notes.txt/run"],
        ["notes.txt", "is a file, not a folder", "choose another --out"],
    ),
    (
        "track-out-permission-denied",
        [*TRACK, "--box", BOX, "--out", "{root}/locked/run"],
        ["cannot write output folder", "locked", "Permission denied", "folder you can write to"],
    ),
    (
        "eval-out-permission-denied",
        [*EVAL, "{root}/generic_ok", "--out", "{root}/locked/run"],
        ["cannot write output folder", "locked", "Permission denied", "folder you can write to"],
    ),
    # ---- track: many videos
    (
        "track-many-box-flag",
        [*MANY, "{root}/videos.txt", "--box", BOX, "--out", "{root}/o"],
        ["prompt one video", "--boxes CSV", "--masks DIR"],
    ),
    (
        "track-many-no-prompts",
        [*MANY, "{root}/videos.txt", "--out", "{root}/o"],
        ["--boxes CSV", "video,obj_id,x1,y1,x2,y2", "--masks DIR"],
    ),
    (
        "track-many-boxes-header",
        [*MANY, "{root}/videos.txt", "--boxes", "{root}/boxes_header.csv", "--out", "{root}/o"],
        ["needs the header video,obj_id,x1,y1,x2,y2"],
    ),
    (
        "track-many-boxes-not-numbers",
        [*MANY, "{root}/videos.txt", "--boxes", "{root}/boxes_words.csv", "--out", "{root}/o"],
        ["boxes_words.csv:2", "whole number"],
    ),
    (
        "track-many-no-row-for-a-video",
        [*MANY, "{root}/videos.txt", "--boxes", "{root}/boxes_other.csv", "--out", "{root}/o"],
        ["1 problem(s)", "no row for video frames"],
    ),
    (
        "track-many-box-outside",
        [*MANY, "{root}/videos.txt", "--boxes", "{root}/boxes_outside.csv", "--out", "{root}/o"],
        ["frames: box 1", "outside the 64x64 frame"],
    ),
    (
        "track-many-video-missing",
        [*MANY, "{root}/videos_missing.txt", "--boxes", "{root}/boxes.csv", "--out", "{root}/o"],
        ["nope: ", "nothing was tracked"],
    ),
    (
        "track-many-mask-missing",
        [*MANY, "{root}/videos.txt", "--masks", "{root}", "--out", "{root}/o"],
        ["frames.png does not exist", "PNG label mask"],
    ),
    (
        "track-many-out-is-a-file",
        [*MANY, "{root}/videos.txt", "--boxes", "{root}/boxes.csv", "--out", "{root}/notes.txt"],
        ["notes.txt is a file", "another --out"],
    ),
    (
        "track-one-video-with-boxes-csv",
        [*TRACK, "--boxes", "{root}/boxes.csv", "--out", "{root}/o"],
        ["prompt many videos", "--box X1,Y1,X2,Y2"],
    ),
    # ---- eval
    (
        "eval-cases-folder-foreign",
        [*EVAL, "{root}/generic_ok", "--out", "{root}/mine"],
        ["mine.cases", "samurai did not write it", "choose another --out"],
    ),
    ("eval-data-missing", [*EVAL, "{root}/nope", "--out", "{root}/o"], ["does not exist", "check the"]),
    (
        "eval-max-cases-zero",
        [*EVAL, "{root}/generic_ok", "--max-cases", "0", "--out", "{root}/o"],
        ["at least 1"],
    ),
    (
        "eval-bad-masks-all-listed",
        [*EVAL, "{root}/generic_bad", "--out", "{root}/o"],
        [
            "2 problem(s)",
            "video00",
            "10x10",
            "save each mask at its frame's size",
            "video01",
            "00007.png matches no frame",
            "name each mask like the frame",
            "nothing was tracked",
        ],
    ),
    (
        "eval-video-ends-before-every-label",
        [*EVAL, "{root}/generic_cut", "--out", "{root}/o"],
        [
            "video00",
            "00001.png",
            "every labelled frame (2) comes after it",
            "remove the case",
            "nothing was tracked",
        ],
    ),
    (
        "eval-all-masks-empty",
        [*EVAL, "{root}/generic_empty", "--out", "{root}/o"],
        ["every mask is empty", "paint each structure"],
    ),
    (
        "eval-lasot-bad-lines-all-listed",
        [*EVAL, "{root}/lasot", "--lasot", "--out", "{root}/o"],
        [
            "3 problem(s)",
            "groundtruth.txt:2",
            "'1,2,x,10'",
            "fix that line",
            "2 boxes for 3 frames",
            "first ground-truth box is empty",
        ],
    ),
    ("eval-lasot-none", [*EVAL, "{root}/generic_ok", "--lasot", "--out", "{root}/o"], ["no groundtruth.txt"]),
    (
        "eval-out-exists",
        [*EVAL, "{root}/generic_ok", "--out", "{root}/earlier"],
        ["already exists", "--force"],
    ),
    (
        "eval-force-over-foreign-folder",
        [*EVAL, "{root}/generic_ok", "--force", "--out", "{root}/thesis"],
        ["did not write"],
    ),
    (
        "eval-out-working-directory",
        [*EVAL, "{root}/generic_ok", "--force", "--out", "."],
        ["working directory"],
    ),
    (
        "eval-unknown-method",
        [*EVAL, "{root}/generic_ok", "--methods", "samurai,sam", "--out", "{root}/o"],
        ["unknown method", "sam2-image"],
    ),
    (
        "eval-medsam-without-weights",
        [*EVAL, "{root}/generic_ok", "--methods", "medsam", "--out", "{root}/o"],
        ["medsam_vit_b.pth", "--medsam"],
    ),
    (
        "eval-medsam-weights-missing",
        [
            *EVAL,
            "{root}/generic_ok",
            "--methods",
            "medsam",
            "--medsam",
            "{root}/medsam_vit_b.pth",
            "--out",
            "{root}/o",
        ],
        ["does not exist", "MedSAM release"],
    ),
    (
        "eval-medsam-not-a-checkpoint",
        [
            *EVAL,
            "{root}/generic_ok",
            "--methods",
            "medsam",
            "--medsam",
            "{root}/notes.txt",
            "--out",
            "{root}/o",
        ],
        ["not a PyTorch checkpoint", "medsam_vit_b.pth"],
    ),
    (
        "eval-sam2-image-on-hf-model",
        [
            *EVAL,
            "{root}/generic_ok",
            "--methods",
            "sam2-image",
            "--model",
            "hf:{root}/thesis",
            "--out",
            "{root}/o",
        ],
        ["sam2-image", "not hf:DIR"],
    ),
    # ---- track / eval: how the model runs (--batch-objects, --compile, --dtype)
    (
        "track-compile-on-hf-model",
        [
            "track",
            "{root}/frames",
            "--box",
            BOX,
            "--model",
            "hf:{root}/thesis",
            "--compile",
            "--out",
            "{root}/o",
        ],
        ["--compile", "hf:DIR", "drop the flag"],
    ),
    (
        "track-bf16-on-cpu",
        [*TRACK, "--box", BOX, "--device", "cpu", "--dtype", "bf16", "--out", "{root}/o"],
        ["--dtype bf16", "CUDA only", "drop --dtype"],
    ),
    (
        "track-dtype-unknown",
        [*TRACK, "--box", BOX, "--dtype", "fp16", "--out", "{root}/o"],
        ["--dtype", "invalid choice", "bf16"],
    ),
    (
        "eval-bf16-on-cpu",
        [*EVAL, "{root}/generic_ok", "--device", "cpu", "--dtype", "bf16", "--out", "{root}/o"],
        ["--dtype bf16", "CUDA only"],
    ),
    (
        "eval-compile-on-hf-model",
        [*EVAL, "{root}/generic_ok", "--model", "hf:{root}/thesis", "--compile", "--out", "{root}/o"],
        ["--compile", "hf:DIR"],
    ),
    (
        "eval-baselines-on-lasot",
        [*EVAL, "{root}/lasot", "--lasot", "--methods", "sam2-image", "--out", "{root}/o"],
        ["echo datasets", "--methods"],
    ),
    # ---- demo
    ("demo-too-few-frames", ["demo", "--frames", "2", "--out", "{root}/o"], ["too short", "--frames"]),
    ("demo-out-exists", ["demo", "--frames", "8", "--out", "{root}/earlier"], ["already exists", "--force"]),
    (
        "demo-force-over-foreign-folder",
        ["demo", "--frames", "8", "--force", "--out", "{root}/thesis"],
        ["did not write"],
    ),
    (
        "demo-force-over-plain-file",
        ["demo", "--frames", "8", "--force", "--out", "{root}/notes.txt"],
        ["is a file"],
    ),
    (
        "demo-out-parent-of-working-directory",
        ["demo", "--frames", "8", "--force", "--out", "{root}"],
        ["working directory"],
    ),
    (
        "demo-checkpoint-missing",
        ["demo", "--frames", "8", "--checkpoint", "{root}/nope.pt", "--out", "{root}/o"],
        ["does not exist", ".pt"],
    ),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_user_error(argv, needles, world, sam2_tiny_checkpoint, monkeypatch, request):
    if "/sys/" in " ".join(argv) and not os.path.isdir("/sys/kernel"):
        pytest.skip("needs a read-only /sys (Linux)")
    if request.node.callspec.id == "track-disk-full":
        from samurai import formats

        def full(*_a, **_k):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(formats, "write_csv", full)  # scores.csv: the last file of a track run
    if request.node.callspec.id == "track-disk-full-overlay-mp4":
        _simulate_silent_mp4_loss(monkeypatch)
    if "permission-denied" in request.node.callspec.id:
        _deny_writes_under(monkeypatch, world / "locked")
    monkeypatch.chdir(world / "cwd")
    before = tree_digest(world)
    result = run_cli([a.format(root=world, ckpt=sam2_tiny_checkpoint) for a in argv])
    assert_user_error(result, *needles, workdir=world)
    assert tree_digest(world) == before  # nothing written, nothing removed: earlier/ intact
    assert json.loads((world / "earlier" / "manifest.json").read_text())["complete"] is True


def _simulate_silent_mp4_loss(monkeypatch):
    """A full disk as OpenCV's MP4 writer meets it (tests/cli/test_io.py shows it on a real
    one, which a test cannot make for a whole run): frames after the first are lost without
    an error, and the file system has no room left."""
    import collections
    import shutil

    cv2 = pytest.importorskip("cv2")
    real = cv2.VideoWriter

    class FillingUp:
        def __init__(self, *args):
            self.inner, self.frames = real(*args), 0

        def write(self, image):
            self.frames += 1
            if self.frames == 1:
                self.inner.write(image)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(cv2, "VideoWriter", FillingUp)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(1 << 30, 1 << 30, 0))


def _deny_writes_under(monkeypatch, folder):
    """What a user without write permission meets (tests run as root, whom chmod does not stop):
    creating anything under ``folder`` raises PermissionError, as the kernel would."""
    import tempfile

    real_mkdir, real_mkdtemp = os.mkdir, tempfile.mkdtemp

    def denied(path):
        if os.path.exists(path):
            return  # mkdir reports an existing folder as such, writable or not
        if str(os.path.abspath(path)).startswith(str(folder) + os.sep):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def mkdir(path, *args, **kwargs):
        denied(path)
        return real_mkdir(path, *args, **kwargs)

    def mkdtemp(*args, dir=None, **kwargs):
        denied(os.path.join(str(dir), "x"))
        return real_mkdtemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)


def test_table_covers_track_eval_and_demo():
    commands = [c[1][0] for c in CASES]
    assert len(CASES) >= 22 and {"track", "eval", "demo"} <= set(commands)


def test_no_leftovers_helper_sees_partial_folders(tmp_path):
    """The harness's check is not vacuous: it finds a partial folder where there is one."""
    (tmp_path / "run.partial-abc").mkdir()
    assert leftovers(tmp_path) == ["run.partial-abc"]
