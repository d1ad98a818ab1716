"""One predictor serves the vanilla and the SAMURAI run (eval, demo): switching per video
must leave the predictor as it was, so nothing leaks into later runs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sam2")

from fixtures_sam2 import IMAGE_SIZE, SYNTHETIC_BOXES, make_synthetic_frames  # noqa: E402


def test_sam2_track_switches_samurai_per_video_only(sam2_tiny_checkpoint):
    from samurai.tracking import sam2_track
    from samurai_sam2 import build_samurai_video_predictor

    pred = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=IMAGE_SIZE)
    config = pred.samurai_config
    frames = np.stack(make_synthetic_frames(num_frames=3))
    prompts = {1: ("box", np.asarray(SYNTHETIC_BOXES[1], np.float32))}

    vanilla = [scores for _, _, scores in sam2_track(pred, frames, prompts, samurai=False)]
    assert vanilla[1][1].keys() == {"ious", "object_score", "chosen"}  # no SAMURAI decision
    assert pred.samurai and pred.samurai_config == config  # the predictor is unchanged
    assert pred.init_state(frames)["samurai"]["enabled"]  # a later plain run gets SAMURAI

    samurai = [scores for _, _, scores in sam2_track(pred, frames, prompts, samurai=True)]
    assert "kf_iou" in samurai[1][1]
    pred.configure_samurai(False, config)
    assert "kf_iou" in list(sam2_track(pred, frames, prompts, samurai=True))[1][2][1]
    assert not pred.samurai and not pred.init_state(frames)["samurai"]["enabled"]
