"""Florence-2 with LoRA as a chamber finder: targets in location tokens, training, adapters.

A tiny random-init Florence-2 (``write_tiny_florence``: no download) at 64 px."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def florence_dir(tmp_path_factory):
    from samurai.florence import write_tiny_florence

    return write_tiny_florence(tmp_path_factory.mktemp("florence") / "tiny", image_size=64)


def test_location_tokens_parse_back_to_boxes_and_polygons_in_pixels(florence_dir):
    from samurai.florence import TASK_BOX, TASK_POLYGON, box_target, load_florence, polygon_target
    from samurai.florence.model import polygons_to_mask

    _, processor = load_florence(florence_dir)
    h, w = 90, 140
    yy, xx = np.mgrid[:h, :w]
    mask = ((xx - 60) / 30.0) ** 2 + ((yy - 40) / 20.0) ** 2 <= 1
    text = box_target(mask, "left ventricle", processor)
    # 1000 bins across each side: x bins are 0.14 px wide, y bins 0.09 px.
    assert text == "left ventricle<loc_214><loc_222><loc_642><loc_666>"
    parsed = processor.post_process_generation(text="<s>" + text + "</s>", task=TASK_BOX, image_size=(w, h))
    assert parsed[TASK_BOX]["labels"] == ["left ventricle"]
    box = np.array(parsed[TASK_BOX]["bboxes"][0])
    np.testing.assert_allclose(box, [30, 20, 90, 60], atol=1)  # the mask's box in pixels
    poly = polygon_target(mask, processor)
    assert len(poly.split("><")) <= 2 * 32
    parsed = processor.post_process_generation(
        text="<s>" + poly + "</s>", task=TASK_POLYGON, image_size=(w, h)
    )
    filled = polygons_to_mask(parsed[TASK_POLYGON]["polygons"][0], h, w)
    iou = (filled & mask).sum() / (filled | mask).sum()
    assert iou > 0.9


def _case(root):
    from samurai.data import open_dataset
    from samurai.data.synthetic import write_generic

    write_generic(root, n_videos=1, n_frames=2)
    return open_dataset(root)[0]


def test_training_lowers_the_loss_and_the_adapter_round_trips_bitwise(florence_dir, tmp_path):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import Florence2ForConditionalGeneration

    from samurai.florence import load_florence
    from samurai.florence.model import peft_on_transformers
    from samurai.train.florence import FlorenceLoss, frame_examples, lora_targets
    from samurai.train.lora import apply_lora, lora_state_dict, save_adapter

    model, processor = load_florence(florence_dir)
    targets = lora_targets(model)
    assert targets and all(".language_model." in f".{t}" for t in targets)
    with peft_on_transformers():
        peft_model = apply_lora(model, targets, r=8, alpha=16)
    examples = frame_examples(_case(tmp_path / "data"), 0, processor)
    assert [e[1].split(">")[0] + ">" for e in examples[:2]] == [
        "<CAPTION_TO_PHRASE_GROUNDING>",
        "<REFERRING_EXPRESSION_SEGMENTATION>",
    ]
    loss_fn = FlorenceLoss(model, processor)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    with torch.no_grad():
        before = float(loss_fn(examples))
    for _ in range(12):
        opt.zero_grad()
        loss_fn(examples).backward()
        opt.step()
    with torch.no_grad():
        after = float(loss_fn(examples))
    assert after < 0.8 * before

    save_adapter(peft_model, tmp_path / "adapter")
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    trained = lora_state_dict(model)
    assert len(saved) == len(trained) > 0
    for name, value in trained.items():
        key = next(
            k
            for k in saved
            if name.endswith(k.removeprefix("base_model.model.").replace(".weight", ".default.weight"))
        )
        assert torch.equal(saved[key], value)
    model.eval()
    inputs = processor(text=[examples[0][1]], images=[examples[0][0]], return_tensors="pt")
    labels = processor.tokenizer([examples[0][2]], return_tensors="pt").input_ids
    with torch.no_grad():
        want = model(**inputs, labels=labels).logits
        fresh = Florence2ForConditionalGeneration.from_pretrained(florence_dir, local_files_only=True)
        with peft_on_transformers():
            reloaded = PeftModel.from_pretrained(fresh, str(tmp_path / "adapter")).eval()
        assert torch.equal(reloaded(**inputs, labels=labels).logits, want)
        merged, _ = load_florence(florence_dir, tmp_path / "adapter")  # the prompter's path: merged
        torch.testing.assert_close(merged(**inputs, labels=labels).logits, want, atol=1e-4, rtol=1e-4)


def test_cli_train_resumes_to_the_same_adapter(florence_dir, tmp_path):
    from safetensors.torch import load_file

    from samurai.cli import main
    from samurai.data.synthetic import write_generic

    write_generic(tmp_path / "data", n_videos=2, n_frames=2)
    common = [
        "train",
        "--model",
        "florence2",
        "--checkpoint",
        str(florence_dir),
        "--data",
        str(tmp_path / "data"),
        "--train-split",
        "none",
        "--val-split",
        "none",
        "--epochs",
        "2",
        "--lr",
        "1e-3",
        "--no-progress",
        "--lora-r",
        "4",
    ]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    assert main([*common, "--out", str(tmp_path / "split"), "--stop-after-steps", "3"]) == 0
    assert not (tmp_path / "split" / "adapter").exists()
    assert main([*common, "--out", str(tmp_path / "split")]) == 0
    a = load_file(tmp_path / "whole" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "split" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(float(v.abs().sum()) > 0 for k, v in a.items() if "lora_B" in k)  # it did train


def test_cli_train_without_florence_weights_names_what_to_get(tmp_path, capsys):
    from samurai.cli import main
    from samurai.data.synthetic import write_generic

    write_generic(tmp_path / "data", n_videos=1, n_frames=2)
    assert (
        main(
            ["train", "--model", "florence2", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert (
        main(
            [
                "train",
                "--model",
                "florence2",
                "--checkpoint",
                str(tmp_path / "nope"),
                "--data",
                str(tmp_path / "data"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("Florence-2-base") == 2 and "--checkpoint" in err


@pytest.mark.ddp
def test_two_process_ddp_keeps_ranks_identical(florence_dir, camus_tiny, tmp_path):
    import json
    import socket

    import ddp_florence_worker
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = dict(
        data=str(camus_tiny["root"]),
        out_dir=str(tmp_path / "run"),
        checkpoint=str(florence_dir),
        epochs=1,
        lr=1e-3,
        warmup_steps=1,
        progress=False,
        device="cpu",
        lora_r=4,
    )
    mp.spawn(ddp_florence_worker.run, args=(2, port, cfg, str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["steps"] == rank1["steps"] == 1  # 2 training cases over 2 ranks
    assert rank0["lora"].keys() == rank1["lora"].keys()
    assert all(torch.equal(rank0["lora"][k], rank1["lora"][k]) for k in rank0["lora"])
    assert any(v.abs().sum() > 0 for k, v in rank0["lora"].items() if "lora_B" in k)
    # Validation sharded over the ranks and gathered: one record, a box IoU per structure.
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1 and {"box_iou_LV", "box_iou_MYO", "box_iou_LA"} <= set(history[0])
