"""``compile=True``: torch.compile of the image encoder and the per-frame heads gives the eager
model's results (reference: the same predictor's eager run), and leaves the parameters and the
``state_dict`` as they were. CPU here (inductor's C++ backend); slow: compilation takes minutes
on a 2-core machine."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from fixtures_sam2 import SYNTHETIC_BOXES, make_synthetic_frames  # noqa: E402

from samurai_sam2 import build_samurai_video_predictor  # noqa: E402

pytestmark = pytest.mark.slow


def _run(predictor, frames):
    state = predictor.init_state(frames)
    for obj_id, box in SYNTHETIC_BOXES.items():
        predictor.add_new_points_or_box(state, 0, obj_id, box=box)
    logits, scores = {}, {}
    for f, _, masks in predictor.propagate_in_video(state):
        logits[f] = masks.clone()
        scores[f] = predictor.frame_scores(state, f)
    return logits, scores


# Inductor leaves the memory attention's rotary encoding (complex multiplies) to eager code and
# says so; a performance note, not an error.
@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex operators")
def test_compiled_predictor_matches_eager(sam2_tiny_checkpoint):
    frames = make_synthetic_frames(num_frames=4)  # memories of 1, 2, 3 frames: shapes change
    predictor = build_samurai_video_predictor(
        "tiny", sam2_tiny_checkpoint, device="cpu", image_size=128, batch_objects=True
    )
    keys = list(predictor.state_dict())
    eager = _run(predictor, frames)
    predictor.compile_model()
    assert predictor.compiled and list(predictor.state_dict()) == keys
    compiled = _run(predictor, frames)
    assert list(compiled[0]) == list(eager[0]) == [0, 1, 2, 3]
    for f in eager[0]:
        torch.testing.assert_close(compiled[0][f], eager[0][f], atol=1e-4, rtol=0)
        assert torch.equal(compiled[0][f] > 0, eager[0][f] > 0), f
        for o, want in eager[1][f].items():
            got = compiled[1][f][o]
            assert got["chosen"] == want["chosen"] and got["memory_frames"] == want["memory_frames"], (f, o)
            np.testing.assert_allclose(got["ious"], want["ious"], atol=1e-4)
