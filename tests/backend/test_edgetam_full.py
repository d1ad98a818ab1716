"""EdgeTAM as released: the full-size config (RepViT image encoder through ``timm``), random
weights, saved with ``save_pretrained`` and loaded by ``samurai_hf`` as a user loads the real
checkpoint folder.

Reference: the saved model's own ``state_dict`` (every tensor back, bit for bit) and the
library's class for the backbone (``TimmWrapperModel``, i.e. timm's RepViT, not a Hiera).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("timm")  # the hf extra installs it

from samurai_hf import SamuraiEdgeTamVideoModel, build_samurai_hf_model  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def edgetam_folder(tmp_path_factory):
    from transformers import EdgeTamVideoConfig, EdgeTamVideoModel, EdgeTamVisionConfig, TimmWrapperConfig

    torch.manual_seed(0)
    # The released EdgeTAM's vision config: timm's repvit_m1, four feature levels. (Spelled out:
    # EdgeTamVideoConfig() alone takes a Hiera encoder, and transformers 5.24.0's default
    # EdgeTamVisionConfig misspells the architecture key and falls back to resnet50.)
    backbone = TimmWrapperConfig(
        architecture="repvit_m1",
        model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
    )
    config = EdgeTamVideoConfig(vision_config=EdgeTamVisionConfig(backbone_config=backbone))
    model = EdgeTamVideoModel(config).eval()
    folder = tmp_path_factory.mktemp("edgetam_full")
    model.save_pretrained(folder)
    return folder, model.state_dict()


def test_full_size_edgetam_loads_with_its_repvit_encoder(edgetam_folder):
    folder, saved = edgetam_folder
    model = build_samurai_hf_model(folder)
    assert isinstance(model, SamuraiEdgeTamVideoModel)
    assert type(model.vision_encoder.backbone).__name__ == "TimmWrapperModel"
    assert model.config.vision_config.backbone_config.architecture == "repvit_m1"
    assert model.image_size == 1024
    loaded = model.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    assert model.samurai_config == model.samurai_preset("tiny")


def test_full_size_edgetam_tracks_through_the_cli_predictor(edgetam_folder):
    """Two frames through ``HFVideoPredictor`` (what ``samurai track --model hf:DIR`` drives):
    the RepViT features reach SAMURAI's decision on the tracked frame (~30 s per 1024-px frame
    on a CPU)."""
    from fixtures_sam2 import SYNTHETIC_BOXES, make_synthetic_frames

    from samurai_hf import HFVideoPredictor, load_processor

    folder, _ = edgetam_folder
    predictor = HFVideoPredictor(build_samurai_hf_model(folder), load_processor(folder))
    state = predictor.init_state(make_synthetic_frames(num_frames=2))
    predictor.add_new_points_or_box(state, 0, 1, SYNTHETIC_BOXES[1])
    with torch.inference_mode():
        out = list(predictor.propagate_in_video(state))
    assert [(t, ids, tuple(logits.shape)) for t, ids, logits in out] == [
        (0, [1], (1, 1, 96, 128)),
        (1, [1], (1, 1, 96, 128)),
    ]
    assert all(torch.isfinite(logits).all() for _, _, logits in out)
    decision = predictor.frame_scores(state, 1)[1]
    assert decision["ious"].shape == (3,) and decision["memory_frames"] == [1]
