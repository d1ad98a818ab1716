"""Florence-2 as a chamber finder: the prompter, `track --chambers`, `eval --methods florence2`,
each against a direct call of transformers on the same frame (a tiny Florence-2 fine-tuned
here until it answers a phantom's boxes)."""

import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def florence(tmp_path_factory):
    """(Florence-2 folder, adapter folder, dataset folder): a tiny Florence-2 and a LoRA adapter
    trained with `samurai train --model florence2` on one synthetic echo video (6-vertex
    outlines: short answers that a tiny model learns in 150 steps)."""
    from samurai.cli import main
    from samurai.data.synthetic import write_generic
    from samurai.florence import write_tiny_florence

    root = tmp_path_factory.mktemp("florence2")
    model = write_tiny_florence(root / "tiny", image_size=64)
    write_generic(root / "data", n_videos=1, n_frames=4)
    assert (
        main(
            [
                "train",
                "--model",
                "florence2",
                "--checkpoint",
                str(model),
                "--data",
                str(root / "data"),
                "--train-split",
                "none",
                "--val-split",
                "none",
                "--epochs",
                "150",
                "--lr",
                "1e-2",
                "--warmup-steps",
                "1",
                "--lora-r",
                "8",
                "--lora-alpha",
                "16",
                "--no-progress",
                "--set",
                "polygon_points=6",
                "--out",
                str(root / "run"),
            ]
        )
        == 0
    )
    return model, root / "run" / "adapter", root / "data"


def _direct(model_dir, adapter, frame, prompt, max_new_tokens):
    """transformers + peft called directly: processor, generate (greedy), post-processing."""
    from peft import PeftModel
    from transformers import AutoProcessor, Florence2ForConditionalGeneration

    from samurai.florence.model import peft_on_transformers

    processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
    base = Florence2ForConditionalGeneration.from_pretrained(model_dir, local_files_only=True)
    with peft_on_transformers():
        model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval()
    inputs = processor(text=[prompt], images=[frame], return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
    text = processor.batch_decode(ids, skip_special_tokens=False)[0]
    task = prompt[: prompt.index(">") + 1]
    return processor.post_process_generation(text=text, task=task, image_size=frame.shape[1::-1])[task]


def _first_frame(data):
    from samurai.data import open_dataset

    case = open_dataset(data)[0]
    return case, np.repeat(case.frames[0][..., None], 3, axis=2)


def test_prompter_finds_the_chambers_as_transformers_does(florence):
    from samurai.prompters import make_prompter
    from samurai.train.florence import box_iou
    from samurai_core.boxes import mask_to_box

    model_dir, adapter, data = florence
    case, frame = _first_frame(data)
    prompter = make_prompter("florence2", model=str(model_dir), adapter=str(adapter), device="cpu")
    found = prompter.find(frame, ["lv", "la"])
    assert list(found) == ["lv", "la"]
    for name, phrase, label in (("lv", "left ventricle", 1), ("la", "left atrium", 3)):
        want = _direct(model_dir, adapter, frame, "<CAPTION_TO_PHRASE_GROUNDING>" + phrase, 80)
        assert want["labels"] == [phrase]
        assert found[name].present and np.array_equal(found[name].box, np.float32(want["bboxes"][0]))
        assert 0 < found[name].score <= 1
        assert box_iou(found[name].box, mask_to_box(case.masks[0] == label)) > 0.5  # it learned


def test_track_chambers_with_the_florence2_prompter(florence, sam2_tiny_checkpoint, tmp_path):
    from samurai.cli import main

    model_dir, adapter, data = florence
    _, frame = _first_frame(data)
    frames = sorted((data / "video00" / "frames").iterdir())
    out = tmp_path / "track"
    assert (
        main(
            [
                "track",
                str(frames[0].parent),
                "--chambers",
                "lv,la",
                "--prompter",
                "florence2",
                "--prompter-model",
                str(model_dir),
                "--prompter-adapter",
                str(adapter),
                "--checkpoint",
                str(sam2_tiny_checkpoint),
                "--image-size",
                "256",
                "--no-video",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    prompts = json.loads((out / "manifest.json").read_text())["prompts"]
    assert [c["name"] for c in prompts["chambers"]] == ["lv", "la"] and prompts["prompter"] == "florence2"
    want = _direct(
        model_dir,
        adapter,
        np.array(Image.open(frames[0]).convert("RGB")),
        "<CAPTION_TO_PHRASE_GROUNDING>left ventricle",
        80,
    )
    assert prompts["chambers"][0]["box"] == [float(v) for v in want["bboxes"][0]]
    assert sorted(p.name for p in (out / "boxes").iterdir()) == ["obj_1.txt", "obj_2.txt"]


def test_eval_florence2_scores_its_polygons(florence, sam2_tiny_checkpoint, tmp_path):
    import csv

    import cv2

    from samurai.cli import main
    from samurai.eval.metrics import dice

    model_dir, adapter, data = florence
    out = tmp_path / "eval"
    assert (
        main(
            [
                "eval",
                str(data),
                "--methods",
                "samurai,florence2",
                "--florence2",
                str(model_dir),
                "--florence2-adapter",
                str(adapter),
                "--checkpoint",
                str(sam2_tiny_checkpoint),
                "--image-size",
                "256",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((out / "per_case.csv").read_text().splitlines()))
    assert [r["method"] for r in rows if r["structure"] == "LV"] == ["samurai", "florence2"]
    assert "| florence2" in (out / "summary.md").read_text()
    from samurai.data import open_dataset

    case = open_dataset(data)[0]
    t = int(np.flatnonzero(case.labelled)[1])  # the scored frame
    rgb = np.repeat(case.frames[t][..., None], 3, axis=2)
    want = _direct(model_dir, adapter, rgb, "<REFERRING_EXPRESSION_SEGMENTATION>left ventricle", 80)
    canvas = np.zeros(case.frames.shape[1:], np.uint8)
    for group in want["polygons"]:
        for poly in group:
            pts = np.round(np.asarray(poly, np.float64).reshape(-1, 2)).astype(np.int32)
            if len(pts) >= 3:
                cv2.fillPoly(canvas, [pts], 1)
    row = next(r for r in rows if r["structure"] == "LV" and r["method"] == "florence2")
    assert canvas.any()  # the fine-tuned model draws an outline
    assert float(row["dice"]) == pytest.approx(dice(canvas.astype(bool), case.masks[t] == 1), abs=1e-6)


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["track", "{frames}", "--chambers", "lv", "--checkpoint", "{ckpt}"], ["--prompter"]),
        (
            ["track", "{frames}", "--chambers", "lv", "--prompter", "florence2", "--checkpoint", "{ckpt}"],
            ["--prompter-model", "Florence-2-base"],
        ),
        (
            ["track", "{frames}", "--chambers", "lv", "--prompter", "sam9", "--checkpoint", "{ckpt}"],
            ["unknown prompter", "florence2"],
        ),
        (
            [
                "track",
                "{frames}",
                "--chambers",
                "lv",
                "--box",
                "1,1,9,9",
                "--prompter",
                "florence2",
                "--checkpoint",
                "{ckpt}",
            ],
            ["replaces --box"],
        ),
        (
            ["eval", "{data}", "--methods", "florence2", "--checkpoint", "{ckpt}"],
            ["--florence2 DIR", "save_pretrained"],
        ),
    ],
)
def test_user_errors(argv, needles, florence, sam2_tiny_checkpoint, tmp_path, capsys):
    from samurai.cli import main

    _, _, data = florence
    args = [a.format(frames=data / "video00" / "frames", data=data, ckpt=sam2_tiny_checkpoint) for a in argv]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in needles), err
    assert not (tmp_path / "o").exists()
