"""`samurai track --model hf:DIR` end to end: a tiny random-init EdgeTAM saved with
``save_pretrained`` (and its processor) and loaded back by the CLI."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from samurai.cli import main
from samurai.formats import read_mask_png

pytestmark = pytest.mark.slow
pytest.importorskip("transformers")

BOXES = ["6,8,30,44", "34,10,58,40"]
N = 4  # frames


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    from samurai_phantom import make_phantom

    folder = tmp_path_factory.mktemp("frames")
    for t, f in enumerate(make_phantom(n_frames=N, size=64, dropout=None).frames):
        Image.fromarray(f).convert("RGB").save(folder / f"{t:05d}.png")
    return folder


def _library_streaming_masks(folder, frame_folder):
    """transformers' own streaming loop (as its docs write it) on the same frames and boxes."""
    import torch
    from transformers import AutoProcessor, EdgeTamVideoModel

    model = EdgeTamVideoModel.from_pretrained(str(folder)).eval()
    processor = AutoProcessor.from_pretrained(str(folder))
    frames = [np.array(Image.open(frame_folder / f"{t:05d}.png").convert("RGB")) for t in range(N)]
    session = processor.init_video_session(inference_device="cpu")
    boxes = [[float(v) for v in b.split(",")] for b in BOXES]
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=[1, 2], input_boxes=[boxes], original_size=(64, 64)
    )
    labels = np.zeros((N, 64, 64), np.uint8)
    with torch.inference_mode():
        for t, frame in enumerate(frames):
            pixels = processor(images=frame, return_tensors="pt").pixel_values[0]
            out = model(inference_session=session, frame_idx=t, frame=pixels)
            masks = processor.post_process_masks([out.pred_masks], original_sizes=[[64, 64]], binarize=False)[
                0
            ]
            for i, oid in enumerate(out.object_ids):
                labels[t][(masks[i, 0] > 0).numpy()] = oid
    return labels


def test_track_with_a_transformers_edgetam_folder(hf_tiny_folders, frame_folder, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    folder = hf_tiny_folders["edgetam_video"]
    model = f"hf:{folder}"
    out = tmp_path / "samurai"
    rc = main(
        [
            "track",
            str(frame_folder),
            "--box",
            BOXES[0],
            "--box",
            BOXES[1],
            "--model",
            model,
            "--out",
            str(out),
            "--no-video",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0 and "wrote" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["samurai"] is True and manifest["model"] == model
    assert manifest["random_weights"] is False
    with (out / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    tracked = [r for r in rows if r["prompt"] == "0"]
    assert len(tracked) == 2 * (N - 1)  # SAMURAI's decision on every tracking frame, both objects
    assert all(r["chosen"] in {"0", "1", "2"} and r["stable_frames"] for r in tracked)

    # SAMURAI off: exactly transformers' own streaming tracker.
    vanilla = tmp_path / "vanilla"
    rc = main(
        [
            "track",
            str(frame_folder),
            "--box",
            BOXES[0],
            "--box",
            BOXES[1],
            "--model",
            model,
            "--vanilla",
            "--out",
            str(vanilla),
            "--no-video",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    with (vanilla / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["prompt"] for r in rows] == ["1", "1"] + ["0"] * (2 * (N - 1))
    assert all(r["object_score"] and not r["chosen"] for r in rows[2:])  # no candidate scores kept
    got = np.stack([read_mask_png(vanilla / "masks" / f"{t:05d}.png") for t in range(N)])
    want = _library_streaming_masks(folder, frame_folder)
    assert (want > 0).any()
    np.testing.assert_array_equal(got, want)


def test_track_hf_batch_objects_reaches_the_model(hf_tiny_folders, frame_folder, tmp_path, monkeypatch):
    """``--batch-objects`` with ``hf:DIR``: both objects of each tracking frame go through one
    batched pass, the manifest records it, and SAMURAI chooses as in the per-object run
    (parity itself: tests/backend/test_batched_objects_hf.py)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from samurai_hf.model import SamuraiVideoMixin

    batched = []
    original = SamuraiVideoMixin._batched_candidates

    def spy(self, session, frame_idx, reverse, streaming, tracked):
        batched.append(len(tracked))
        return original(self, session, frame_idx, reverse, streaming, tracked)

    monkeypatch.setattr(SamuraiVideoMixin, "_batched_candidates", spy)
    chosen = {}
    for name, extra in (("loop", []), ("batched", ["--batch-objects"])):
        out = tmp_path / name
        argv = ["track", str(frame_folder), "--box", BOXES[0], "--box", BOXES[1], "--model"]
        argv += [
            f"hf:{hf_tiny_folders['sam2_video']}",
            *extra,
            "--out",
            str(out),
            "--no-video",
            "--device",
            "cpu",
        ]
        assert main(argv) == 0
        with (out / "scores.csv").open() as f:
            chosen[name] = [(r["frame"], r["obj_id"], r["chosen"]) for r in csv.DictReader(f)]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest.get("batch_objects") is (True if extra else None)
        assert batched == ([2] * (N - 1) if extra else [])  # frame 0 is the prompt
    assert chosen["batched"] == chosen["loop"]
    assert {c for _, _, c in chosen["loop"]} > {""}  # SAMURAI's choices were compared


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "hf:{missing}"], "is not a folder"),
        (["--model", "hf:{folder}", "--checkpoint", "x.pt"], "--checkpoint is for SAM 2 models"),
        (["--model", "hf:{folder}", "--image-size", "128"], "--image-size is for SAM 2 models"),
        (["--model", "hf:{notmodel}"], "no config.json"),
    ],
)
def test_hf_model_errors_name_the_fix(extra, message, hf_tiny_folders, frame_folder, tmp_path, capsys):
    names = {"missing": tmp_path / "nope", "folder": hf_tiny_folders["edgetam_video"], "notmodel": tmp_path}
    extra = [e.format(**names) for e in extra]
    rc = main(["track", str(frame_folder), "--box", BOXES[0], *extra, "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("samurai track: error:") and message in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_model_name_is_a_usage_error(frame_folder, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["track", str(frame_folder), "--box", BOXES[0], "--model", "huge"])
    assert exit_info.value.code == 2
    assert "or hf:DIR" in capsys.readouterr().err


def test_track_hf_with_an_adapter(hf_tiny_folders, frame_folder, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from fixtures_hf import tiny_hf_model

    from samurai.train.lora import apply_lora, save_adapter

    folder = hf_tiny_folders["edgetam_video"]
    peft_model = apply_lora(tiny_hf_model("edgetam_video"))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.fill_(0.05)
    save_adapter(peft_model, tmp_path / "adapter")
    runs = {}
    for name, extra in (("plain", []), ("adapted", ["--adapter", str(tmp_path / "adapter")])):
        out = tmp_path / name
        rc = main(
            [
                "track",
                str(frame_folder),
                "--box",
                BOXES[0],
                "--model",
                f"hf:{folder}",
                *extra,
                "--out",
                str(out),
                "--no-video",
                "--device",
                "cpu",
            ]
        )
        assert rc == 0
        runs[name] = np.stack([read_mask_png(out / "masks" / f"{t:05d}.png") for t in range(N)])
    assert json.loads((tmp_path / "adapted" / "manifest.json").read_text())["adapter"] == str(
        tmp_path / "adapter"
    )
    assert not np.array_equal(runs["plain"], runs["adapted"])

    # An adapter for another architecture is refused with the reason.
    (tmp_path / "bad").mkdir()
    from peft import LoraConfig
    from safetensors.torch import save_file

    LoraConfig(r=8, lora_alpha=8, target_modules=["not_a_layer"]).save_pretrained(str(tmp_path / "bad"))
    save_file(
        {"base_model.model.not_a_layer.lora_A.weight": torch.zeros(8, 16)},
        str(tmp_path / "bad" / "adapter_model.safetensors"),
    )
    capsys.readouterr()
    rc = main(
        [
            "track",
            str(frame_folder),
            "--box",
            BOXES[0],
            "--model",
            f"hf:{folder}",
            "--adapter",
            str(tmp_path / "bad"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 2 and "does not fit the model" in capsys.readouterr().err


def test_demo_runs_a_transformers_tracker(hf_tiny_folders, tmp_path, capsys):
    """`samurai demo --model hf:DIR` adds the folder's tracker (vanilla and SAMURAI) to the
    phantom comparison (3 frames: a pipeline check)."""
    folder = hf_tiny_folders["edgetam_video"]
    out = tmp_path / "demo"
    rc = main(
        [
            "demo",
            "--model",
            f"hf:{folder}",
            "--frames",
            "3",
            "--size",
            "64",
            "--scale",
            "1",
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    label = f"hf-{folder.name}"
    with (out / "metrics.csv").open() as f:
        methods = {r["method"] for r in csv.DictReader(f)}
    assert {f"{label}/vanilla", f"{label}/samurai"} <= methods


def test_track_hf_from_a_label_mask(hf_tiny_folders, frame_folder, tmp_path):
    """Mask prompts (one per label) go through the processor's mask path for every object."""
    from samurai.formats import write_png
    from samurai_phantom import make_phantom

    labels = make_phantom(n_frames=N, size=64, dropout=None).masks[0].astype(np.uint8)
    ids = sorted(int(v) for v in np.unique(labels) if v)
    write_png(tmp_path / "first.png", labels)
    out = tmp_path / "run"
    rc = main(
        [
            "track",
            str(frame_folder),
            "--mask",
            str(tmp_path / "first.png"),
            "--model",
            f"hf:{hf_tiny_folders['sam2_video']}",
            "--out",
            str(out),
            "--no-video",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    with (out / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    # Every labelled object was prompted on frame 0 and decided by SAMURAI on the others.
    assert sorted(int(r["obj_id"]) for r in rows if r["prompt"] == "1") == ids
    assert len([r for r in rows if r["prompt"] == "0" and r["chosen"]]) == len(ids) * (N - 1)


def test_eval_with_a_transformers_folder(hf_tiny_folders, tmp_path, capsys):
    """`samurai eval --model hf:DIR`: vanilla and SAMURAI rows for every structure."""
    from samurai.data.synthetic import write_camus2023

    write_camus2023(tmp_path / "camus", n_patients=1, n_frames=3)
    out = tmp_path / "eval"
    rc = main(
        [
            "eval",
            str(tmp_path / "camus"),
            "--model",
            f"hf:{hf_tiny_folders['edgetam_video']}",
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    with (out / "per_case.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and {r["method"] for r in rows} == {"vanilla", "samurai"}
    assert json.loads((out / "manifest.json").read_text())["random_weights"] is False
