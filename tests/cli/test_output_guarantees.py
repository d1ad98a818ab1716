"""What `track` and `eval` promise about their results (docs/cli.md, "Exit codes and output
guarantees"): a video that ends before its announced frame count keeps every tracked frame, an
eval case that fails is recorded and the others are kept, the manifest and overlays say what
was run. Random-init SAM 2.1 tiny at 256 px, a few frames."""

import csv
import json

import numpy as np
import pytest
from PIL import Image
from user_errors import run_cli

from samurai.drawing import PALETTE
from samurai.formats import read_lasot_boxes, read_mask_png
from samurai.provenance import file_sha256

pytestmark = pytest.mark.slow

N = 6  # frames written; the truncated file decodes N - 1


@pytest.fixture(scope="module")
def truncated_avi(tmp_path_factory):
    """An MJPG AVI written by OpenCV whose last frame is cut off (a download cut short): the
    container still announces N frames, N - 1 decode. Returns (path, the decodable frames)."""
    pytest.importorskip("cv2")
    from fixtures_sam2 import write_truncated_avi

    from samurai_phantom import make_phantom

    path = tmp_path_factory.mktemp("avi") / "cut.avi"
    ph = make_phantom(n_frames=N, size=64, dropout=None)
    announced, decoded = write_truncated_avi(path, [np.repeat(f[..., None], 3, axis=2) for f in ph.frames])
    assert (announced, len(decoded)) == (N, N - 1)  # the premise, checked with OpenCV itself
    return path, decoded


def test_track_keeps_every_frame_of_a_video_that_ends_early(truncated_avi, sam2_tiny_checkpoint, tmp_path):
    path, decoded = truncated_avi
    common = ["--box", "6,8,30,44", "--checkpoint", sam2_tiny_checkpoint, "--image-size", "256", "--no-video"]
    result = run_cli(["track", path, *common, "--out", tmp_path / "cut"])
    assert result.code == 0, result.stderr
    assert f"read {N - 1} of {N} announced frames" in result.stderr
    out = tmp_path / "cut"
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["frames_read"], manifest["frames_announced"]) == (N - 1, N)
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{t:05d}.png" for t in range(N - 1)]
    assert read_lasot_boxes(out / "boxes" / "obj_1.txt").shape == (N - 1, 4)

    _assert_masks_as_from_a_folder(out, decoded, common, tmp_path)


def _assert_masks_as_from_a_folder(out, decoded, common, tmp_path):
    """The masks in ``out`` are those of ``track`` on the same decoded frames written as a
    lossless PNG folder (the reference: no container, no frame count to trust)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, f in enumerate(decoded):
        Image.fromarray(f).save(folder / f"{t:05d}.png")
    ref = run_cli(["track", folder, *common, "--out", tmp_path / "ref"])
    assert ref.code == 0, ref.stderr
    for t in range(len(decoded)):
        np.testing.assert_array_equal(
            read_mask_png(out / "masks" / f"{t:05d}.png"),
            read_mask_png(tmp_path / "ref" / "masks" / f"{t:05d}.png"),
        )


def test_eval_lasot_scores_a_video_that_ends_early_on_the_frames_read(
    truncated_avi, sam2_tiny_checkpoint, tmp_path
):
    path, decoded = truncated_avi
    seq = tmp_path / "lasot" / "cut"
    seq.mkdir(parents=True)
    (seq / "cut.avi").write_bytes(path.read_bytes())
    (seq / "groundtruth.txt").write_text("6,8,24,36\n" * len(decoded))  # one line per decodable frame
    result = run_cli(
        [
            "eval",
            tmp_path / "lasot",
            "--lasot",
            "--checkpoint",
            sam2_tiny_checkpoint,
            "--image-size",
            "256",
            "--out",
            tmp_path / "eval",
        ]
    )
    assert result.code == 0, result.stderr
    assert f"read {N - 1} of {N} announced frames" in result.stderr
    rows = list(csv.DictReader((tmp_path / "eval" / "per_case.csv").read_text().splitlines()))
    assert [(r["status"], r["frames"], r["frames_announced"]) for r in rows] == [
        ("ok", str(N - 2), str(N))
    ] * 2


def test_track_tracks_every_frame_of_a_video_that_announces_fewer(sam2_tiny_checkpoint, tmp_path):
    """A real AVI whose stream header announces 4 of its 7 frames: every frame is tracked, with
    the masks of the same frames as a lossless folder."""
    pytest.importorskip("cv2")
    from fixtures_sam2 import write_underannounced_avi

    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=7, size=64, dropout=None)
    announced, decoded = write_underannounced_avi(
        tmp_path / "under.avi", [np.repeat(f[..., None], 3, axis=2) for f in ph.frames], 4
    )
    assert (announced, len(decoded)) == (4, 7)  # the premise, read with OpenCV itself
    common = ["--box", "6,8,30,44", "--checkpoint", sam2_tiny_checkpoint, "--image-size", "256", "--no-video"]
    result = run_cli(["track", tmp_path / "under.avi", *common, "--out", tmp_path / "under"])
    assert result.code == 0, result.stderr
    assert "read 7 frames, 3 more than its container announces (4" in result.stderr
    out = tmp_path / "under"
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["frames_read"], manifest["frames_announced"], manifest["ended_early"]) == (7, 4, None)
    assert read_lasot_boxes(out / "boxes" / "obj_1.txt").shape == (7, 4)
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{t:05d}.png" for t in range(7)]
    _assert_masks_as_from_a_folder(out, decoded, common, tmp_path)


def test_track_keeps_the_frames_before_an_unreadable_frame_file(sam2_tiny_checkpoint, tmp_path):
    """A frame folder with a corrupt image in the middle: handled as a video that ends early
    (the frames before it tracked and written, exit 0, the file named on stderr and in the
    manifest), with the masks of the same frames without the bad file."""
    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=6, size=64, dropout=None)
    for name in ("frames", "ref"):
        (tmp_path / name).mkdir()
    for t, f in enumerate(ph.frames):
        Image.fromarray(f).convert("RGB").save(tmp_path / "frames" / f"{t:05d}.png")
        if t < 3:
            Image.fromarray(f).convert("RGB").save(tmp_path / "ref" / f"{t:05d}.png")
    (tmp_path / "frames" / "00003.png").write_bytes(b"\x89PNG broken by a copy")
    common = ["--box", "6,8,30,44", "--checkpoint", sam2_tiny_checkpoint, "--image-size", "256"]
    result = run_cli(["track", tmp_path / "frames", *common, "--out", tmp_path / "out"])
    assert result.code == 0, result.stderr
    assert "read 3 of 6 announced frames" in result.stderr and "00003.png" in result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["frames_read"], manifest["frames_announced"]) == (3, 6)
    assert "00003.png" in manifest["ended_early"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{t:05d}.png" for t in range(3)]
    assert (out / "overlay.gif").is_file() and read_lasot_boxes(out / "boxes" / "obj_1.txt").shape == (3, 4)
    ref = run_cli(["track", tmp_path / "ref", *common, "--no-video", "--out", tmp_path / "refout"])
    assert ref.code == 0, ref.stderr
    for t in range(3):
        np.testing.assert_array_equal(
            read_mask_png(out / "masks" / f"{t:05d}.png"),
            read_mask_png(tmp_path / "refout" / "masks" / f"{t:05d}.png"),
        )


def test_eval_lasot_scores_every_frame_read(sam2_tiny_checkpoint, tmp_path):
    """LaSOT sequences whose frames differ from the count announced: an img/ folder with a
    corrupt frame is scored on the frames before it (groundtruth.txt has a line per file), as
    a video that ends early; an AVI announcing 3 of its 5 frames is scored on all 5; the intact
    sequence is untouched."""
    pytest.importorskip("cv2")
    from fixtures_sam2 import write_underannounced_avi

    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=5, size=64, dropout=None)
    for name in ("bad", "good"):
        (tmp_path / "lasot" / name / "img").mkdir(parents=True)
        for t, f in enumerate(ph.frames):
            Image.fromarray(f).convert("RGB").save(tmp_path / "lasot" / name / "img" / f"{t + 1:08d}.jpg")
        (tmp_path / "lasot" / name / "groundtruth.txt").write_text("6,8,24,36\n" * 5)
    (tmp_path / "lasot" / "bad" / "img" / "00000004.jpg").write_bytes(b"truncated jpeg")
    (tmp_path / "lasot" / "under").mkdir()
    announced, decoded = write_underannounced_avi(
        tmp_path / "lasot" / "under" / "under.avi", [np.repeat(f[..., None], 3, axis=2) for f in ph.frames], 3
    )
    assert (announced, len(decoded)) == (3, 5)
    (tmp_path / "lasot" / "under" / "groundtruth.txt").write_text("6,8,24,36\n" * 5)
    result = run_cli(
        [
            "eval",
            tmp_path / "lasot",
            "--lasot",
            "--checkpoint",
            sam2_tiny_checkpoint,
            "--image-size",
            "256",
            "--out",
            tmp_path / "eval",
        ]
    )
    assert result.code == 0, result.stderr
    assert "sequence bad: read 3 of 5 announced frames" in result.stderr and "00000004.jpg" in result.stderr
    assert "sequence under: read 5 frames, 2 more than its container announces (3" in result.stderr
    rows = list(csv.DictReader((tmp_path / "eval" / "per_case.csv").read_text().splitlines()))
    got = {(r["case"], r["method"]): (r["status"], r["frames"], r["frames_announced"]) for r in rows}
    assert got == {
        (c, m): ("ok", str(n - 1), a)
        for c, n, a in (("bad", 3, "5"), ("good", 5, "5"), ("under", 5, "3"))
        for m in ("vanilla", "samurai")
    }
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert list(manifest["ended_early"]) == ["bad"] and "00000004.jpg" in manifest["ended_early"]["bad"]


def test_eval_echonet_videos_that_end_early(sam2_tiny_checkpoint, tmp_path):
    """EchoNet AVIs cut short (a download cut off): one still holds its traced frames (ED 1,
    ES 3) and is scored as before; one ends before ES, scored on what is left (ED, its prompt
    frame) with the lost traced frame named; the third is untouched. Every score equals the
    intact dataset's on the same frames."""
    pytest.importorskip("cv2")
    from fixtures_sam2 import cut_avi

    from samurai.data.synthetic import write_echonet

    data = write_echonet(tmp_path / "echonet", n_videos=3, n_frames=6, size=(64, 64))
    names = sorted(data["cases"])
    common = ["--kind", "echonet", "--checkpoint", sam2_tiny_checkpoint, "--image-size", "256"]
    ref = run_cli(["eval", data["root"], *common, "--out", tmp_path / "ref"])
    assert ref.code == 0, ref.stderr
    tail, before_es, intact = names
    cut_avi(data["root"] / "Videos" / f"{tail}.avi", keep=5)
    cut_avi(data["root"] / "Videos" / f"{before_es}.avi", keep=3)
    result = run_cli(["eval", data["root"], *common, "--out", tmp_path / "cut"])
    assert result.code == 0, result.stderr
    assert f"case {tail}: {tail}.avi decodes 5 of the 6 frames" in result.stderr
    assert (
        f"case {before_es}: {before_es}.avi decodes 3 of the 6 frames" in result.stderr
        and "labelled frame(s) 3 went with the end" in result.stderr
    )
    assert intact not in result.stderr

    def rows(folder):
        return {
            (r["case"], r["method"]): r
            for r in csv.DictReader((folder / "per_case.csv").read_text().splitlines())
        }

    cut, full = rows(tmp_path / "cut"), rows(tmp_path / "ref")
    for (case, method), row in cut.items():
        assert row["status"] == "ok"
        if case == before_es:  # only its prompt frame is left to score
            assert row["frames"] == "1" and row["dice"] != ""
        else:
            assert {k: row[k] for k in ("frames", "dice", "iou", "hd95")} == {
                k: full[case, method][k] for k in ("frames", "dice", "iou", "hd95")
            }
    manifest = json.loads((tmp_path / "cut" / "manifest.json").read_text())
    assert sorted(manifest["ended_early"]) == sorted([tail, before_es])
    assert "2 case(s) ended before the frames" in (tmp_path / "cut" / "summary.md").read_text()


def test_eval_names_the_objects_empty_on_every_frame(tmp_path, monkeypatch):
    """Random weights leave objects empty: eval names them (case/method/structure) on stderr,
    in summary.json and in the manifest, as track does; the named ones are those whose masks
    are empty on every frame."""
    from samurai.data.synthetic import write_generic
    from samurai.eval import echo

    write_generic(tmp_path / "data", n_videos=1, n_frames=3)
    masks = {}
    real = echo.track_case

    def spy(predictor, samurai, frames, prompts, start):  # the masks each method produced
        out = real(predictor, samurai, frames, prompts, start)
        masks["samurai" if samurai else "vanilla"] = (out, sorted(prompts), start)
        return out

    monkeypatch.setattr(echo, "track_case", spy)
    result = run_cli(
        [
            "eval",
            tmp_path / "data",
            "--random-weights",
            "--seed",
            "5",
            "--image-size",
            "128",
            "--out",
            tmp_path / "eval",
        ]
    )
    assert result.code == 0, result.stderr
    labels = json.loads((tmp_path / "data" / "labels.json").read_text())
    expected = [
        f"video00/{m}/{labels[str(k)]}"
        for m, (out, ids, start) in masks.items()
        for i, k in enumerate(ids)
        if not out[start:, i].any()
    ]
    assert expected and len(expected) < 6  # seed 5: some structures never segmented, not all
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    named = [f"{e['case']}/{e['method']}/{e['object']}" for e in summary["empty_objects"]]
    assert named == expected and manifest["empty_objects"] == summary["empty_objects"]
    assert "empty on every tracked frame" in result.stderr and all(n in result.stderr for n in expected)
    assert all(n in (tmp_path / "eval" / "summary.md").read_text() for n in expected)


def test_eval_records_a_failing_case_and_keeps_the_others(sam2_tiny_checkpoint, tmp_path, monkeypatch):
    from samurai.data.synthetic import write_generic
    from samurai.eval import echo, runner

    write_generic(tmp_path / "data", n_videos=2, n_frames=3)
    real = echo.echo_case

    def flaky(case, *args):  # e.g. the GPU running out of memory on one case
        if case.case_id == "video01":
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(case, *args)

    monkeypatch.setattr(echo, "echo_case", flaky)
    result = run_cli(
        [
            "eval",
            tmp_path / "data",
            "--checkpoint",
            sam2_tiny_checkpoint,
            "--image-size",
            "256",
            "--out",
            tmp_path / "eval",
        ]
    )
    assert result.code == runner.EXIT_SOME_FAILED == 3, result.stderr
    assert "1 of 2 case(s) failed" in result.stderr and "video01" in result.stderr
    out = tmp_path / "eval"
    rows = list(csv.DictReader((out / "per_case.csv").read_text().splitlines()))
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["case"] for r in failed} == {"video01"} and len(failed) == 2  # vanilla and samurai
    assert all("CUDA out of memory" in r["error"] for r in failed)
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok and {r["case"] for r in ok} == {"video00"} and all(r["dice"] != "" for r in ok)
    assert "1 of 2 case(s) failed" in (out / "summary.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_cases"] == ["video01"]
    # Every per-case metric reaches the summary, norm_precision_auc included.
    for entry in summary["segmentation"]:
        mine = [
            float(r["norm_precision_auc"])
            for r in ok
            if (r["method"], r["structure"]) == (entry["method"], entry["structure"])
        ]
        assert entry["norm_precision_auc"] == pytest.approx(np.mean(mine), abs=1e-5)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed_cases"] == ["video01"] and manifest["cases"] == ["video00", "video01"]


def test_track_manifest_overlay_and_empty_objects(sam2_tiny_checkpoint, tmp_path):
    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=3, size=64, dropout=None)
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, f in enumerate(ph.frames):
        Image.fromarray(f).convert("RGB").save(frames / f"{t:05d}.png")
    Image.fromarray(ph.masks[0]).save(tmp_path / "mask.png")

    # Random weights, two boxes, SAMURAI off: UNTRAINED stamp, prompt boxes, the progress label.
    box = (4, 6, 40, 50)
    result = run_cli(
        [
            "track",
            frames,
            "--box",
            ",".join(map(str, box)),
            "--box",
            "30,10,60,40",
            "--random-weights",
            "--image-size",
            "128",
            "--vanilla",
            "--out",
            tmp_path / "r",
        ]
    )
    assert result.code == 0, result.stderr
    assert "propagate in video (SAM 2)" in result.stderr and "(SAMURAI)" not in result.stderr
    out = tmp_path / "r"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"] == "samurai" and manifest["random_weights"] is True
    assert manifest["prompts"]["boxes"] == [list(map(float, box)), [30.0, 10.0, 60.0, 40.0]]
    assert manifest["image_size"] == 128 and manifest["argv"][:2] == ["samurai", "track"]
    assert set(manifest["packages"]) == {"samurai", "torch", "sam2", "jax", "numpy"}
    labels = np.stack([read_mask_png(out / "masks" / f"{t:05d}.png") for t in range(3)])
    # Object 2 is drawn over object 1, so "empty" is judged on the box files (each object's own).
    empty = [k for k in (1, 2) if not read_lasot_boxes(out / "boxes" / f"obj_{k}.txt")[:, 2:].any()]
    assert manifest["empty_objects"] == empty
    assert ("empty on every one of the 3 frames" in result.stderr) == bool(empty)
    assert set(np.unique(labels)) <= {0, 1, 2}
    with Image.open(out / "overlay.gif") as gif:
        first = np.asarray(gif.convert("RGB"))
        gif.seek(1)
        second = np.asarray(gif.convert("RGB"))
    x1, y1, x2, y2 = box
    assert (first[y2 - 1, x1 + 5 : x2 - 5] == PALETTE[0]).all()  # the bottom edge of box 1
    assert not (second[y2 - 1, x1 + 5 : x2 - 5] == PALETTE[0]).all(axis=1).all()  # frame 0 only
    for t, frame in enumerate((first, second)):  # the UNTRAINED band: black, white text, top left
        assert _blacked_out(frame, ph.frames[t]) > 0.5 and (frame[:12, :60].min(axis=2) > 150).any()

    # A mask prompt: its file's hash is recorded; a checkpoint run carries no UNTRAINED band.
    result = run_cli(
        [
            "track",
            frames,
            "--mask",
            tmp_path / "mask.png",
            "--checkpoint",
            sam2_tiny_checkpoint,
            "--image-size",
            "256",
            "--out",
            tmp_path / "m",
        ]
    )
    assert result.code == 0, result.stderr
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["prompts"]["mask_sha256"] == file_sha256(tmp_path / "mask.png")
    assert manifest["checkpoint_sha256"] == file_sha256(sam2_tiny_checkpoint)
    assert "propagate in video (SAMURAI)" in result.stderr
    with Image.open(tmp_path / "m" / "overlay.gif") as gif:
        assert _blacked_out(np.asarray(gif.convert("RGB")), ph.frames[0]) < 0.05


def _blacked_out(overlay_frame, source_frame) -> float:
    """Of the top-left 12x60 pixels that are not dark in the video, the fraction that are black
    in the overlay."""
    band, lit = overlay_frame[:12, :60], source_frame[:12, :60] > 8
    assert lit.sum() > 20  # the phantom's speckle reaches the corner: the measure means something
    return float(((band == 0).all(axis=2) & lit).sum() / lit.sum())
