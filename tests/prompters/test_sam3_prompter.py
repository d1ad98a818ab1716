"""The ``sam3`` prompter on a tiny random-init ``Sam3Model`` saved with save_pretrained: each
class's result is the best instance of its phrase, as the library's own full call finds it."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from fixtures_sam2 import make_synthetic_frames  # noqa: E402

from samurai.prompters import CHAMBER_PHRASES, PrompterError, available_prompters, make_prompter  # noqa: E402

pytestmark = pytest.mark.slow

FRAME = make_synthetic_frames(num_frames=1)[0]


def _library_best(folder, frame, phrase):
    """The library's documented call (image and text together), best instance by score."""
    from transformers import AutoProcessor, Sam3Model

    model = Sam3Model.from_pretrained(str(folder)).eval()
    processor = AutoProcessor.from_pretrained(str(folder))
    inputs = processor(images=frame, text=phrase, return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    found = processor.post_process_instance_segmentation(
        outputs, threshold=0.0, mask_threshold=0.5, target_sizes=[frame.shape[:2]]
    )[0]
    best = int(torch.argmax(found["scores"]))
    return float(found["scores"][best]), found["masks"][best].bool().numpy()


def _box_of(mask):
    """Inclusive-corner box of a non-empty mask (NumPy oracle)."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)


def test_sam3_is_registered():
    assert "sam3" in available_prompters()
    with pytest.raises(PrompterError, match="--prompter-model DIR"):
        make_prompter("sam3")


def test_best_instance_per_chamber_phrase(hf_tiny_sam3_detector_folder):
    prompter = make_prompter("sam3", model=hf_tiny_sam3_detector_folder, threshold=0.0, device="cpu")
    found = prompter.find(FRAME, ["lv", "la"])
    assert list(found) == ["lv", "la"]
    for name, result in found.items():
        score, mask = _library_best(hf_tiny_sam3_detector_folder, FRAME, CHAMBER_PHRASES[name])
        assert result.name == name and result.score == pytest.approx(score, abs=1e-6)
        np.testing.assert_array_equal(result.mask, mask)
        assert result.mask.shape == FRAME.shape[:2]
        if mask.any():
            assert result.present
            np.testing.assert_array_equal(result.box, _box_of(mask))


def test_threshold_and_phrases(hf_tiny_sam3_detector_folder):
    strict = make_prompter("sam3", model=hf_tiny_sam3_detector_folder, threshold=1.0, device="cpu")
    result = strict.find(FRAME, ["rv"])["rv"]
    assert not result.present and result.box is None and 0.0 <= result.score < 1.0

    custom = make_prompter(
        "sam3", model=hf_tiny_sam3_detector_folder, threshold=0.0, phrases={"lv": "heart"}, device="cpu"
    )
    score, mask = _library_best(hf_tiny_sam3_detector_folder, FRAME, "heart")
    result = custom.find(FRAME, ["lv"])["lv"]
    assert result.score == pytest.approx(score, abs=1e-6)
    np.testing.assert_array_equal(result.mask, mask)


def test_bad_uses_are_explained(hf_tiny_sam3_detector_folder, tmp_path):
    prompter = make_prompter("sam3", model=hf_tiny_sam3_detector_folder, device="cpu")
    with pytest.raises(PrompterError, match="no phrase for \\['aorta'\\]"):
        prompter.find(FRAME, ["aorta"])
    with pytest.raises(PrompterError, match="H×W×3 uint8"):
        prompter.find(FRAME[..., 0], ["lv"])
    with pytest.raises(PrompterError, match="no config.json"):
        make_prompter("sam3", model=tmp_path)


def test_prompted_chambers_are_tracked_with_samurai(hf_tiny_sam3_detector_folder, hf_tiny_folders):
    """The text-only route end to end: SAM 3 finds the chambers on frame 0, a SAMURAI SAM 3
    tracker follows every present one (as docs/backend.md shows)."""
    from samurai_hf import build_samurai_hf_model, load_processor

    frames = make_synthetic_frames(num_frames=4)
    prompter = make_prompter("sam3", model=hf_tiny_sam3_detector_folder, threshold=0.0, device="cpu")
    found = prompter.find(frames[0], ["lv", "la", "rv", "ra"])
    present = [r for r in found.values() if r.present]
    assert len(present) == 4

    folder = hf_tiny_folders["sam3_tracker_video"]
    model = build_samurai_hf_model(folder, samurai="tiny")
    processor = load_processor(folder)
    session = processor.init_video_session(video=frames, inference_device="cpu")
    ids = list(range(1, len(present) + 1))
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=list(ids), input_masks=[r.mask for r in present]
    )
    with torch.inference_mode():
        first = model(inference_session=session, frame_idx=0)
        outs = list(model.propagate_in_video_iterator(session))
    assert first.object_ids == ids and [o.frame_idx for o in outs] == [0, 1, 2, 3]
    assert sorted(model.frame_scores(session, 3)) == ids  # SAMURAI decided every chamber
