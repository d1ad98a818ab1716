"""Learned class prompts: the decoder path against SAM 2's own, training, saving, loading, use
at inference, and absent classes (random-init hiera-tiny at 256 px, tiny synthetic data)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from samurai.data import EchoCase, open_dataset  # noqa: E402
from samurai.train.loop import TrainConfig, clip_forward, train  # noqa: E402
from samurai.train.losses import frame_losses  # noqa: E402
from samurai.train.prompts import class_clip, class_prompted_first_frame, dataset_class_names  # noqa: E402
from samurai_sam2.class_prompts import (  # noqa: E402
    CLASS_PROMPTS_NAME,
    ClassPromptError,
    ClassPrompts,
    class_prompt_heads,
    first_frame_features,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def learned_run(camus_tiny, sam2_tiny_checkpoint, tmp_path_factory):
    """Two epochs of `train --prompts learned` on the tiny CAMUS set (classes lv, myo, la),
    with one small module trained in full beside LoRA."""
    out = tmp_path_factory.mktemp("learned_run")
    cfg = TrainConfig(
        data=str(camus_tiny["root"]),
        out_dir=str(out),
        checkpoint=str(sam2_tiny_checkpoint),
        clip_len=2,
        epochs=2,
        lr=5e-3,
        warmup_steps=1,
        progress=False,
        val_split=None,
        device="cpu",
        prompts="learned",
        train_modules=["sam_mask_decoder.iou_prediction_head"],
    )
    torch.set_num_threads(1)
    return train(cfg), out


def _frame_features(model, image):
    backbone = model.forward_image(image)
    _, feats, pos, sizes = model._prepare_backbone_features(backbone)
    return first_frame_features(model, feats, pos, sizes)


def test_class_heads_equal_sam2_heads_when_given_a_box_prompts_tokens(tiny_model):
    """With the prompt encoder's own embedding of a box as the tokens, the class-prompt heads
    reproduce SAM2Base._forward_sam_heads on that box, bitwise."""
    model = tiny_model
    image = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    coords = torch.tensor([[[40.0, 60.0], [150.0, 200.0]]])
    labels = torch.tensor([[2, 3]], dtype=torch.int32)
    with torch.no_grad():
        pix_feat, high_res = _frame_features(model, image)
        sparse, _ = model.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        ours = class_prompt_heads(model, pix_feat, high_res, sparse)
        theirs = model._forward_sam_heads(
            pix_feat, {"point_coords": coords, "point_labels": labels}, None, high_res, False
        )
    assert len(ours) == len(theirs) == 7
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_dataset_class_names_follow_the_loaders_labels(camus_tiny):
    assert dataset_class_names(open_dataset(camus_tiny["root"], split="train")) == ["lv", "myo", "la"]


def test_training_moves_every_class_token_and_saves_them_bitwise(learned_run, sam2_tiny_checkpoint):
    result, out = learned_run
    prompts = result["class_prompts"]
    assert prompts.class_names == ("lv", "myo", "la") and prompts.tokens.shape == (3, 2, 256)
    from samurai.train.model import build_model

    initial = ClassPrompts.for_model(
        build_model("tiny", sam2_tiny_checkpoint, image_size=256),
        prompts.class_names,
        generator=torch.Generator().manual_seed(0),
    )
    moved = (prompts.tokens.detach() - initial.tokens).flatten(1).abs().amax(1)
    assert bool((moved > 1e-4).all()), moved
    for folder in ("adapter", "best_adapter"):
        loaded = ClassPrompts.load(out / folder)
        assert loaded.class_names == prompts.class_names
        assert torch.equal(loaded.tokens, prompts.tokens.detach().cpu())
    assert result["trainable_parameters"] > prompts.tokens.numel()


def test_every_class_token_gets_gradient_absent_ones_too(tiny_model, camus_tiny):
    case = open_dataset(camus_tiny["root"], split="val")[0]
    model = copy.deepcopy(tiny_model)
    prompts = ClassPrompts.for_model(
        model, ["lv", "myo", "la", "rv"], generator=torch.Generator().manual_seed(0)
    )
    clip = class_clip(case, [0, 1], 256, prompts.class_names)
    loss, _, _ = clip_forward(model, clip, class_prompts=prompts)
    loss.backward()
    grad = prompts.tokens.grad.flatten(1).abs().sum(1)
    assert bool((grad > 0).all()), grad  # rv is absent but still trained (towards "absent")


def test_an_absent_class_is_trained_as_absent(tiny_model, camus_tiny):
    """A class missing from frame 0 gets an all-zero target; the loss then holds only its
    object-score BCE towards 0, with no mask terms (checked against the loss recomputed with
    the class left out)."""
    case = open_dataset(camus_tiny["root"], split="val")[0]
    masks = case.masks.copy()
    masks[masks == 3] = 0  # no LA anywhere
    case = EchoCase(case.case_id, case.frames, masks, case.labelled, case.labels)
    model = copy.deepcopy(tiny_model)
    prompts = ClassPrompts.for_model(model, ["lv", "myo", "la"], generator=torch.Generator().manual_seed(0))
    clip = class_clip(case, [0, 1], 256, prompts.class_names)
    assert clip.object_ids == [1, 2, 3] and clip.class_index == [0, 1, 2]
    assert not clip.targets[:, 2].any() and not clip.boxes[2].any()
    with torch.no_grad():
        backbone = model.forward_image(clip.images[:1])
        frame = {
            k: [f.expand(3, -1, -1, -1) for f in backbone[k]] for k in ("backbone_fpn", "vision_pos_enc")
        }
        _, feats, pos, sizes = model._prepare_backbone_features(frame)
        _, out = class_prompted_first_frame(model, prompts, clip, feats, pos, sizes)
    multi, ious, obj = out[1], out[2], out[6]
    terms = frame_losses(multi, ious, obj, clip.targets[0])
    both = frame_losses(multi[:2], ious[:2], obj[:2], clip.targets[0, :2])
    expected_obj = (
        torch.nn.functional.binary_cross_entropy_with_logits(
            obj[:, 0], torch.tensor([1.0, 1.0, 0.0]), reduction="sum"
        )
        / 3
    )
    assert torch.allclose(terms["obj"], expected_obj)
    for name in ("focal", "dice", "iou"):
        assert torch.allclose(terms[name], both[name] * 2 / 3), name


def test_unknown_train_module_is_named(tiny_model):
    from samurai.train.lora import AdapterError, set_trainable_modules

    with pytest.raises(AdapterError, match="no_such_module"):
        set_trainable_modules(copy.deepcopy(tiny_model), ["no_such_module"])


def test_no_class_on_frame0_means_no_clip(camus_tiny):
    case = open_dataset(camus_tiny["root"], split="val")[0]
    assert class_clip(case, [0, 1], 256, ["rv", "ra"]) is None


def test_predictor_uses_the_loaded_prompts(learned_run, sam2_tiny_checkpoint):
    """load_adapter attaches the class prompts; changing one class's tokens changes that
    class's prediction and no other's."""
    from samurai.train.lora import load_adapter
    from samurai_sam2 import build_samurai_video_predictor

    result, out = learned_run
    predictor = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=256)
    load_adapter(predictor, out / "adapter")
    assert torch.equal(predictor.class_prompts.tokens.detach(), result["class_prompts"].tokens.detach())
    assert not any("class_prompts" in k for k in predictor.state_dict())
    trained = dict(result["model"].named_parameters())
    loaded = dict(predictor.named_parameters())
    head = [n for n in trained if n.startswith("sam_mask_decoder.iou_prediction_head.")]
    assert head and all(torch.equal(loaded[n], trained[n]) for n in head)
    base = torch.load(sam2_tiny_checkpoint, weights_only=True)["model"]
    assert not all(torch.equal(trained[n], base[n]) for n in head)
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    state = predictor.init_state(frames)
    masks, scores = predictor.find_classes(state, 0, ["lv", "la"])
    assert masks.shape == (2, 1, 64, 64) and scores.shape == (2,)
    with torch.no_grad():
        predictor.class_prompts.tokens[2] += 1.0  # la
    masks2, scores2 = predictor.find_classes(state, 0, ["lv", "la"])
    assert torch.equal(scores2[0], scores[0]) and torch.equal(masks2[0], masks[0])
    assert not torch.equal(scores2[1], scores[1])
    with pytest.raises(ClassPromptError, match="rv"):
        predictor.find_classes(state, 0, ["rv"])
    assert (out / "adapter" / CLASS_PROMPTS_NAME).is_file()
