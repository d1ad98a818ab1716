"""Training on transformers' SAM-family video models (``--model hf:DIR``): the clip forward is
the library's tracker, and a short LoRA run trains only the adapters."""

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("transformers")
import torch.nn.functional as F  # noqa: E402
from fixtures_hf import FAMILY_NAMES  # noqa: E402

from samurai.data import open_dataset  # noqa: E402
from samurai.train.clips import make_clip  # noqa: E402
from samurai.train.hf import model_images  # noqa: E402
from samurai.train.loop import TrainConfig, clip_forward, train  # noqa: E402
from samurai.train.lora import load_adapter  # noqa: E402
from samurai.train.model import build_model  # noqa: E402
from samurai_hf import load_processor  # noqa: E402

pytestmark = pytest.mark.slow


def _clip(camus_tiny, size, split="val"):
    case = open_dataset(camus_tiny["root"], split=split)[0]
    return make_clip(case, [0, 1, 2], size, max_objects=2)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_clip_forward_is_the_library_tracker(hf_tiny_folders, camus_tiny, family, monkeypatch):
    """The training forward's per-frame outputs (masks, object pointers, memories) are bitwise
    those of the library's own tracking of the same images from the same boxes."""
    folder = hf_tiny_folders[family]
    model = build_model(f"hf:{folder}", image_size=None)
    clip = _clip(camus_tiny, model.image_size)
    sessions = []
    library_session = model._session_class

    class Recorded(library_session):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sessions.append(self)

    monkeypatch.setattr(model, "_session_class", Recorded)
    with torch.no_grad():
        loss, terms, masks = clip_forward(model, clip)
    assert loss is not None and terms["total"] == pytest.approx(float(loss))
    (trained,) = sessions

    processor = load_processor(folder)
    size = model.image_size
    # The frames as the family's processor normalises them (SAM 3: mean = std = 0.5).
    session = library_session(
        video=model_images(model, clip.images), video_height=size, video_width=size, dtype=torch.float32
    )
    ids = [int(o) for o in clip.object_ids]
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=list(ids), input_boxes=[clip.boxes.tolist()], original_size=(size, size)
    )
    with torch.inference_mode():
        outs = [model(inference_session=session, frame_idx=0)]
        outs += list(model.propagate_in_video_iterator(session, start_frame_idx=1))
    assert [o.frame_idx for o in outs] == [0, 1, 2] and len(ids) == 2
    keys = ("pred_masks", "object_pointer", "object_score_logits", "maskmem_features", "maskmem_pos_enc")
    for obj_idx in range(len(ids)):
        for t in range(3):
            kind = "cond_frame_outputs" if t == 0 else "non_cond_frame_outputs"
            mine = trained.output_dict_per_obj[obj_idx][kind][t]
            theirs = session.output_dict_per_obj[obj_idx][kind][t]
            for key in keys:
                assert torch.equal(mine[key], theirs[key]), (obj_idx, t, key)
        # The returned masks are the chosen candidates at the input size (upsampled with all
        # candidates at once, so equal to the library's upsampled mask up to rounding).
        for t, out in enumerate(outs):
            want = F.interpolate(
                out.pred_masks.float(), size=(size, size), mode="bilinear", align_corners=False
            )
            torch.testing.assert_close(masks[t, obj_idx], want[obj_idx, 0], rtol=1e-6, atol=1e-6)
    assert bool((masks > 0).any())


def test_short_hf_run_trains_only_the_adapters(hf_tiny_folders, camus_tiny, tmp_path):
    folder = hf_tiny_folders["edgetam_video"]
    base = build_model(f"hf:{folder}", image_size=None)
    clip = _clip(camus_tiny, base.image_size, split="train")

    def fixed_loss(model):
        model.eval()
        with torch.no_grad():
            return float(clip_forward(model, clip)[0])

    before = fixed_loss(copy.deepcopy(base))
    cfg = TrainConfig(
        data=str(camus_tiny["root"]),
        out_dir=str(tmp_path / "run"),
        model=f"hf:{folder}",
        image_size=base.image_size,
        clip_len=2,
        max_objects=2,
        epochs=3,
        lr=2e-3,
        warmup_steps=1,
        progress=False,
        val_split=None,
        device="cpu",
        box_jitter=0.0,
    )
    model = train(cfg)["model"]
    after = fixed_loss(model)
    assert after < before
    reference = base.state_dict()
    for name, param in model.named_parameters():
        if "lora_" not in name:
            assert torch.equal(param, reference[name.replace(".base_layer", "")]), name
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)
    reloaded = load_adapter(copy.deepcopy(base), tmp_path / "run" / "adapter")
    assert fixed_loss(reloaded) == pytest.approx(after, rel=1e-6)


def test_hf_model_options_are_checked(hf_tiny_folders):
    folder = hf_tiny_folders["sam2_video"]
    with pytest.raises(ValueError, match="takes 256 px inputs; set image_size 256"):
        build_model(f"hf:{folder}", image_size=512)
    with pytest.raises(ValueError, match="carries its weights"):
        build_model(f"hf:{folder}", checkpoint="sam2.pt", image_size=None)


def test_sam3_clips_are_renormalised_as_its_processor_does(hf_tiny_folders, camus_tiny):
    """SAM 3's processor maps pixel p to (p - 0.5) / 0.5; the clip's SAM 2 normalisation is
    undone first. SAM 2 and EdgeTAM take the clip as it is."""
    from samurai_hf import default_processor

    sam3 = build_model(f"hf:{hf_tiny_folders['sam3_tracker_video']}", image_size=None)
    clip = _clip(camus_tiny, sam3.image_size)
    pixels = clip.images[0].permute(1, 2, 0) * torch.tensor((0.229, 0.224, 0.225)) + torch.tensor(
        (0.485, 0.456, 0.406)
    )
    uint8 = (pixels * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    processor = default_processor("sam3_tracker_video", sam3.image_size)
    want = processor(images=uint8, return_tensors="pt").pixel_values[0]
    torch.testing.assert_close(model_images(sam3, clip.images)[0], want, rtol=0, atol=1e-2)
    sam2 = build_model(f"hf:{hf_tiny_folders['sam2_video']}", image_size=None)
    assert model_images(sam2, clip.images) is clip.images


def test_cli_train_hf_names_the_input_size(hf_tiny_folders, camus_tiny, tmp_path, capsys):
    from samurai.cli import main

    folder = hf_tiny_folders["sam2_video"]
    rc = main(
        [
            "train",
            "--data",
            str(camus_tiny["root"]),
            "--model",
            f"hf:{folder}",
            "--image-size",
            "512",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    assert rc == 2
    assert "takes 256 px inputs; set image_size 256 (--image-size 256)" in capsys.readouterr().err
