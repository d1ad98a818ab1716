"""`samurai track` end to end on small synthetic videos (random-init SAM 2.1 tiny at 256 px)."""

import json

import numpy as np
import pytest
from PIL import Image

from samurai.cli import main
from samurai.formats import read_lasot_boxes, read_mask_png
from samurai.video_writers import mp4_available

pytestmark = pytest.mark.slow

BOXES = ["6,8,30,44", "34,10,58,40"]
N = 3  # frames


@pytest.fixture(scope="module")
def clip():
    from samurai_phantom import make_phantom

    return make_phantom(n_frames=N, size=64, dropout=None)


@pytest.fixture(scope="module")
def frame_folder(clip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for t, f in enumerate(clip.frames):
        Image.fromarray(f).convert("RGB").save(folder / f"{t:05d}.png")
    return folder


@pytest.fixture(scope="module")
def mp4_video(clip, tmp_path_factory):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64))
    for f in clip.frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def _track(*args, ckpt):
    return main(["track", *map(str, args), "--checkpoint", str(ckpt), "--image-size", "256"])


def test_track_frame_folder_with_boxes(frame_folder, sam2_tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    rc = _track(frame_folder, "--box", BOXES[0], "--box", BOXES[1], "--out", out, ckpt=sam2_tiny_checkpoint)
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["objects"] == [1, 2] and manifest["samurai"] is True
    assert manifest["random_weights"] is False
    masks = np.stack([read_mask_png(out / "masks" / f"{t:05d}.png") for t in range(N)])
    assert set(np.unique(masks)) <= {0, 1, 2}

    # The same prompts through the backend directly give the same masks (id 2 drawn over id 1).
    from samurai_sam2 import build_samurai_video_predictor

    predictor = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=256)
    state = predictor.init_state(str(frame_folder))
    for oid, box in enumerate(BOXES, 1):
        predictor.add_new_points_or_box(
            state, frame_idx=0, obj_id=oid, box=[float(v) for v in box.split(",")]
        )
    expected = np.zeros_like(masks)
    per_object = np.zeros((2,) + masks.shape, bool)
    for t, ids, logits in predictor.propagate_in_video(state):
        for i, oid in enumerate(ids):
            per_object[oid - 1, t] = (logits[i, 0] > 0).numpy()
            expected[t][per_object[oid - 1, t]] = oid
    np.testing.assert_array_equal(masks, expected)

    # LaSOT box files: x,y,w,h of each object's own mask per frame (0,0,0,0 when absent).
    for oid in (1, 2):
        boxes = read_lasot_boxes(out / "boxes" / f"obj_{oid}.txt")
        assert boxes.shape == (N, 4)
        for t in range(N):
            m = per_object[oid - 1, t]
            if m.any():
                r, c = np.nonzero(m)
                np.testing.assert_array_equal(boxes[t], [c.min(), r.min(), np.ptp(c) + 1, np.ptp(r) + 1])
            else:
                np.testing.assert_array_equal(boxes[t], 0)

    import csv

    rows = list(csv.DictReader((out / "scores.csv").read_text().splitlines()))
    assert len(rows) == 2 * N
    assert [r["prompt"] for r in rows[:2]] == ["1", "1"]
    tracked = rows[2:]
    assert all(r["chosen"] in {"0", "1", "2"} and np.isfinite(float(r["predicted_iou"])) for r in tracked)
    # Memory for the next frame, newest first: the frame just tracked always enters it.
    assert all(r["memory_frames"].split()[0] == r["frame"] for r in tracked)

    import imageio.v2 as imageio

    assert len(imageio.mimread(out / "overlay.gif")) == N
    assert (out / "overlay.mp4").is_file() == mp4_available()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_track_video_file_with_mask_vanilla_and_force(
    mp4_video, clip, sam2_tiny_checkpoint, tmp_path, capsys
):
    Image.fromarray(clip.masks[0]).save(tmp_path / "first.png")
    out = tmp_path / "run"
    out.mkdir()
    args = [mp4_video, "--mask", tmp_path / "first.png", "--vanilla", "--out", out, "--no-video"]
    assert _track(*args, ckpt=sam2_tiny_checkpoint) == 2
    assert "--force" in capsys.readouterr().err
    assert _track(*args, "--force", ckpt=sam2_tiny_checkpoint) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["objects"] == [1, 2, 3, 4] and manifest["samurai"] is False
    assert len(list((out / "masks").iterdir())) == N
    assert not (out / "overlay.gif").exists()
    import csv

    rows = [r for r in csv.DictReader((out / "scores.csv").read_text().splitlines()) if r["prompt"] == "0"]
    assert len(rows) == 4 * (N - 1) and all(r["motion_iou"] == "" for r in rows)  # vanilla: no motion score


def test_interrupted_run_leaves_no_output(frame_folder, sam2_tiny_checkpoint, tmp_path, monkeypatch):
    import samurai.tracking as track_cmd

    real = track_cmd.sam2_track

    def interrupted(*a, **k):
        for i, item in enumerate(real(*a, **k)):
            if i == 1:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(track_cmd, "sam2_track", interrupted)
    rc = _track(frame_folder, "--box", BOXES[0], "--out", tmp_path / "run", ckpt=sam2_tiny_checkpoint)
    assert rc == 130
    assert list(tmp_path.iterdir()) == []


def test_random_weights_are_labelled(frame_folder, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "track",
            str(frame_folder),
            "--box",
            BOXES[0],
            "--random-weights",
            "--image-size",
            "256",
            "--out",
            str(out),
            "--no-video",
        ]
    )
    assert rc == 0
    assert "UNTRAINED" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["random_weights"] is True


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, v: ["track", str(d / "nope.mp4"), "--box", "1,1,5,5"], "does not exist"),
        (lambda d, v: ["track", str(d / "broken.mp4"), "--box", "1,1,5,5"], "cannot read"),
        (lambda d, v: ["track", str(v), "--box", "10,10,80,40"], "outside the 64x64 frame"),
        (lambda d, v: ["track", str(v), "--box", "10,10,5,40"], "X2 must not be below X1"),
        (lambda d, v: ["track", str(v), "--box", "10,10,40"], "X1,Y1,X2,Y2"),
        (lambda d, v: ["track", str(v)], "--box"),
        (lambda d, v: ["track", str(v), "--box", "1,1,5,5", "--mask", str(d / "m.png")], "not both"),
        (lambda d, v: ["track", str(v), "--mask", str(d / "m.png")], "is empty"),
        (lambda d, v: ["track", str(v), "--mask", str(d / "small.png")], "at the video's resolution"),
        (lambda d, v: ["track", str(v), "--box", "1,1,5,5"], "--checkpoint"),
        (
            lambda d, v: ["track", str(v), "--box", "1,1,5,5", "--checkpoint", str(d / "nope.pt")],
            "does not exist",
        ),
        (
            lambda d, v: ["track", str(v), "--box", "1,1,5,5", "--checkpoint", str(d / "m.png")],
            "cannot build",
        ),
    ],
)
def test_user_errors_name_the_fix(make_args, message, frame_folder, tmp_path, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"\x00not a video" * 10)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "m.png")
    Image.fromarray(np.ones((32, 32), np.uint8)).save(tmp_path / "small.png")
    rc = main(make_args(tmp_path, frame_folder) + ["--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("samurai track: error:") and message in err
    assert not (tmp_path / "out").exists()


def test_adapter_that_does_not_fit_the_model(frame_folder, sam2_tiny_checkpoint, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from peft import LoraConfig
    from safetensors.torch import save_file

    adapter = tmp_path / "adapter"
    LoraConfig(r=8, lora_alpha=8, target_modules=["not_a_layer"]).save_pretrained(str(adapter))
    save_file(
        {"base_model.model.not_a_layer.lora_A.weight": torch.zeros(8, 16)},
        str(adapter / "adapter_model.safetensors"),
    )
    rc = _track(
        frame_folder,
        "--box",
        BOXES[0],
        "--adapter",
        adapter,
        "--out",
        tmp_path / "out",
        ckpt=sam2_tiny_checkpoint,
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "cannot be loaded into the tiny model" in err and "another SAM 2 architecture" in err
    assert not (tmp_path / "out").exists()


def test_adapter_from_samurai_train_is_applied(frame_folder, sam2_tiny_checkpoint, tmp_path):
    pytest.importorskip("peft")
    from samurai.train.lora import apply_lora, save_adapter
    from samurai_sam2 import build_sam2_model

    peft_model = apply_lora(build_sam2_model("tiny", sam2_tiny_checkpoint, image_size=256))
    save_adapter(peft_model, tmp_path / "adapter")
    out = tmp_path / "run"
    rc = _track(
        frame_folder,
        "--box",
        BOXES[0],
        "--adapter",
        tmp_path / "adapter",
        "--out",
        out,
        "--no-video",
        ckpt=sam2_tiny_checkpoint,
    )
    assert rc == 0
    assert json.loads((out / "manifest.json").read_text())["adapter"] == str(tmp_path / "adapter")
    assert len(list((out / "masks").iterdir())) == N
