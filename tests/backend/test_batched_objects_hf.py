"""The transformers backend's batched objects (``model.batch_objects = True``) against its
per-object loop.

The reference is the library's structure, one object at a time (``batch_objects=False``: with
SAMURAI off the library's own ``forward``, with SAMURAI on the restated path that
``test_hf.py`` checks bitwise against the library). Over a 30-frame video with four objects —
one prompted on frame 8, one re-seeded on frame 20, one lost for six frames and found again —
tracked forward through the library's session API and then back in reverse, the batched pass
must make the same SAMURAI decisions (chosen candidates, memory frames), give the same
candidate boxes, mask logits within 1e-4 and the same masks. SAM 2 and EdgeTAM (whose memory
attention also counts the spatial memories and whose memory is encoded per object); SAM 3's
tracker runs SAM 2's code.

As in ``test_batched_objects.py``, a random-init model barely tells objects apart, so hooks
drive the decisions that batching could mix up, identically in both passes: the lost object's
score is pushed below zero on its lost frames and a different candidate is favoured per object
and frame. Everything downstream is the backend's own.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from batched_scene import LOST, LOST_OBJ, T, scene_frames  # noqa: E402
from fixtures_hf import tiny_hf_model  # noqa: E402

from samurai_hf import build_samurai_hf_model, default_processor  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_torch_thread")]

# (first frame, objects prompted there with their boxes, xyxy on the 96x128 frames); each entry
# starts a propagation that runs until the next one.
PROMPTS = [
    (0, {1: [12, 14, 36, 34], 2: [90, 58, 110, 82], 4: [92, 12, 108, 28]}),
    (8, {3: [55, 19, 73, 37]}),  # object 3 enters late
    (20, {4: [92, 12, 108, 28]}),  # object 4 is re-seeded
]
OBJECT_ORDER = [1, 2, 4, 3]  # the session's object indices: order of first prompt
# Weights drawn at half the fixtures' scale: at 0.1 this random model amplifies float rounding
# ~1000-fold over 30 frames of memory (same decisions, logits apart by up to 6e-4, a few
# pixels with |logit| < 1.2e-4 flipped); at 0.05 the batched pass stays within 1e-6.
INIT_RANGE = 0.05


FRAMES = scene_frames()


class _DecisionDriver:
    """Hooks that make objects differ as a trained model would: which object each row of the
    mask decoder's batch is (recorded as each object's memory is gathered, in both paths), then
    on tracking frames a lost object's score below zero and a preferred candidate per
    (object, frame). Prompted frames gather no memory and are left as they are."""

    def __init__(self, model, monkeypatch):
        self.rows: list[tuple[int, int]] = []  # (obj_id, frame) of the decoder's next rows
        self.largest = 0  # the most objects one decoder call saw
        gather = model._gather_memory_frame_outputs

        def spy(inference_session, obj_idx, frame_idx, track_in_reverse_time=False):
            self.rows.append((inference_session.obj_idx_to_id(obj_idx), frame_idx))
            return gather(inference_session, obj_idx, frame_idx, track_in_reverse_time)

        monkeypatch.setattr(model, "_gather_memory_frame_outputs", spy)
        self.handle = model.mask_decoder.register_forward_hook(self._decoder_hook)

    def _decoder_hook(self, module, args, output):
        if not self.rows:
            return output
        low, ious, tokens, obj_logits = output
        rows, self.rows = self.rows, []
        assert len(rows) == ious.shape[0]
        self.largest = max(self.largest, len(rows))
        bonus = torch.zeros_like(ious)
        shift = torch.zeros_like(obj_logits)
        for r, (obj_id, frame) in enumerate(rows):
            bonus[r, ..., (frame + obj_id) % ious.shape[-1]] = 1.0
            if obj_id == LOST_OBJ and frame in LOST:
                shift[r] = -(obj_logits[r].abs() + 5.0)
        return low, ious + bonus, tokens, obj_logits + shift


def _run(model, processor, batch_objects, monkeypatch):
    """Forward through the prompts' propagations, then the whole video in reverse; returns
    ``{(pass, frame): (mask logits, frame scores)}`` and the most objects one mask decoder
    call saw."""
    model.batch_objects = batch_objects
    driver = _DecisionDriver(model, monkeypatch)
    session = processor.init_video_session(video=FRAMES, inference_device="cpu")
    height, width = FRAMES[0].shape[:2]
    out = {}
    try:
        ends = [start for start, _ in PROMPTS[1:]] + [T]
        for (start, boxes), end in zip(PROMPTS, ends):
            processor.add_inputs_to_inference_session(
                session,
                frame_idx=start,
                obj_ids=list(boxes),
                input_boxes=[list(boxes.values())],
                original_size=(height, width),
            )
            for o in model.propagate_in_video_iterator(
                session, start_frame_idx=start, max_frame_num_to_track=end - start - 1
            ):
                out["forward", o.frame_idx] = (o.pred_masks.clone(), model.frame_scores(session, o.frame_idx))
        for o in model.propagate_in_video_iterator(session, start_frame_idx=T - 1, reverse=True):
            assert list(o.object_ids) == OBJECT_ORDER
            out["reverse", o.frame_idx] = (o.pred_masks.clone(), model.frame_scores(session, o.frame_idx))
    finally:
        driver.handle.remove()
        monkeypatch.undo()
    return out, driver.largest


def _model(family, samurai=True):
    model = build_samurai_hf_model(tiny_hf_model(family, initializer_range=INIT_RANGE), samurai=None)
    if samurai:
        # Motion scoring from the third frame and a memory gate that some frames fail: the
        # objects' memory sets differ in content and in length.
        model.configure_samurai(
            model.samurai_preset("tiny", stable_frames_threshold=2, memory_bank_iou_threshold=0.9)
        )
    return model, default_processor(family, model.config.image_size)


def _assert_parity(loop, batched):
    assert list(batched) == list(loop)
    for key, (want, want_scores) in loop.items():
        got, got_scores = batched[key]
        assert got_scores.keys() == want_scores.keys(), key
        for o, w in want_scores.items():
            g = got_scores[o]
            assert g["chosen"] == w["chosen"], (key, o)
            assert g.get("memory_frames") == w.get("memory_frames"), (key, o)
            np.testing.assert_allclose(g["ious"], w["ious"], atol=1e-4)
            if "boxes" in w:
                np.testing.assert_array_equal(g["boxes"], w["boxes"])
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
        assert torch.equal(got > 0, want > 0), key


@pytest.mark.parametrize("family", ["sam2_video", "edgetam_video"])
def test_batched_objects_match_the_per_object_loop(family, monkeypatch):
    model, processor = _model(family)
    loop, loop_rows = _run(model, processor, False, monkeypatch)
    batched, batched_rows = _run(model, processor, True, monkeypatch)
    assert (loop_rows, batched_rows) == (1, 4)
    _assert_parity(loop, batched)

    # The run exercised what batching could get wrong.
    scores = {key: s for key, (_, s) in loop.items()}
    assert [f for f in LOST if scores["forward", f][LOST_OBJ]["object_score"] <= 0] == list(LOST)
    assert all(scores["forward", f][LOST_OBJ]["object_score"] > 0 for f in range(LOST.stop, T))
    assert 3 not in scores["forward", 7] and 3 not in scores["forward", 8]  # enters on 8
    assert 4 not in scores["forward", 20] and 4 in scores["forward", 21]  # re-seeded on 20
    chosen = {s["chosen"] for fs in scores.values() for s in fs.values()}
    assert chosen == {0, 1, 2}
    # Memory sets of different lengths on one frame: memory attention ran in several groups.
    assert any(len({len(s["memory_frames"]) for s in fs.values()}) > 1 for fs in scores.values())


def test_batched_objects_with_samurai_off(monkeypatch):
    """SAMURAI off: the batched pass (the library's memory rule and argmax) against the
    library's own ``forward``."""
    model, processor = _model("sam2_video", samurai=False)
    (loop, loop_rows), (batched, batched_rows) = (
        _run(model, processor, b, monkeypatch) for b in (False, True)
    )
    assert (loop_rows, batched_rows) == (1, 4)
    assert list(batched) == list(loop)
    for key, (want, want_scores) in loop.items():
        got, got_scores = batched[key]
        assert got_scores.keys() == want_scores.keys(), key
        assert all("ious" not in s for s in want_scores.values())  # the library's own forward
        assert all("memory_frames" not in s for s in got_scores.values())
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
        # Same masks wherever the reference logit is not itself within rounding of 0.
        decided = want.abs() > 1e-5
        assert torch.equal((got > 0)[decided], (want > 0)[decided]), key
        assert decided.float().mean() > 0.999
