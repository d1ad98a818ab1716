"""The oracle-box / first-box protocols, and sam2-image against sam2's own image predictor."""

import warnings

import numpy as np
import pytest

from samurai.baselines import segment_case


class ShrinkingBoxes:
    """A segmenter whose mask is its (inclusive) box less its last column and row, except on
    frames listed in ``blank`` (empty masks): a known answer for every prompt."""

    name = "shrink"

    def __init__(self, shape, blank=()):
        self.shape, self.blank, self.calls, self.batches = shape, set(blank), [], []

    def encode(self, frames):
        self.batches.append(len(frames))
        self.frame_ids = [int(f[0, 0, 0]) for f in frames]  # each frame carries its index

    def segment(self, index, boxes):
        t = self.frame_ids[index]
        self.calls.append((t, boxes.copy()))
        out = np.zeros((len(boxes), *self.shape), bool)
        if t not in self.blank:
            for k, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
                out[k, y1:y2, x1:x2] = True
        return out


def _case(t=6, h=20, w=24):
    frames = np.zeros((t, h, w), np.uint8)
    frames[:, 0, 0] = np.arange(t)
    truth = np.zeros((t, h, w), np.uint8)
    truth[:, 2:10, 3:12] = 1
    truth[:, 12:18, 14:22] = 2
    labelled = np.zeros(t, bool)
    labelled[[1, 3, 5]] = True
    return frames, truth, labelled


def test_oracle_box_prompts_each_labelled_frame_with_its_truth_box():
    frames, truth, labelled = _case()
    truth[3][truth[3] == 2] = 0  # structure 2 absent on frame 3: no prompt, empty mask
    seg = ShrinkingBoxes(truth.shape[1:])
    masks = segment_case(seg, frames, truth, labelled, [1, 2], start=1, protocol="oracle-box", batch_size=2)
    assert [t for t, _ in seg.calls] == [1, 3, 5] and seg.batches == [2, 1]
    assert np.array_equal(seg.calls[0][1], [[3, 2, 11, 9], [14, 12, 21, 17]])
    assert len(seg.calls[1][1]) == 1
    assert not masks[[0, 2, 4]].any() and not masks[3, 1].any()
    assert masks[5, 0].sum() == 8 * 7 and masks[5, 1].sum() == 7 * 5


def test_oracle_box_prompts_follow_structures_that_move():
    """Each labelled frame gets the box of its own truth: structure 1 moves 2 px right and 1 px
    down per frame, structure 2 grows by a row every other frame (rows 12 to 14 + t // 2; inclusive boxes written out by hand)."""
    frames, truth, labelled = _case()
    truth[:] = 0
    for t in range(len(truth)):
        truth[t, 2 + t : 10 + t, 3 + 2 * t : 12 + 2 * t] = 1
        truth[t, 12 : 14 + t // 2 + 1, 14:22] = 2
    seg = ShrinkingBoxes(truth.shape[1:])
    segment_case(seg, frames, truth, labelled, [1, 2], start=1, protocol="oracle-box", batch_size=8)
    boxes = {t: b.tolist() for t, b in seg.calls}
    assert boxes == {
        1: [[5, 3, 13, 10], [14, 12, 21, 14]],
        3: [[9, 5, 17, 12], [14, 12, 21, 15]],
        5: [[13, 7, 21, 14], [14, 12, 21, 16]],
    }


def test_first_box_follows_its_own_masks_and_keeps_the_last_box_when_empty():
    frames, truth, labelled = _case()
    seg = ShrinkingBoxes(truth.shape[1:], blank={3})
    masks = segment_case(seg, frames, truth, labelled, [1, 2], start=1, protocol="first-box", batch_size=4)
    assert [t for t, _ in seg.calls] == [1, 2, 3, 4, 5] and seg.batches == [4, 1]
    boxes = {t: b for t, b in seg.calls}
    assert np.array_equal(boxes[1][0], [3, 2, 11, 9])
    assert np.array_equal(boxes[2][0], [3, 2, 10, 8])  # frame 1's mask, one pixel smaller
    assert np.array_equal(boxes[3][0], [3, 2, 9, 7])
    assert np.array_equal(boxes[4][0], [3, 2, 9, 7])  # frame 3 came back empty: its box again
    assert np.array_equal(boxes[5][0], [3, 2, 8, 6])
    assert not masks[0].any() and not masks[3].any() and masks[5, 0].sum() == 4 * 5


@pytest.mark.slow
def test_sam2_image_matches_sam2_image_predictor(sam2_tiny_checkpoint):
    from fixtures_sam2 import make_synthetic_frames
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from samurai.baselines.sam2_image import Sam2ImageSegmenter
    from samurai_core.boxes import mask_to_box
    from samurai_sam2 import build_samurai_video_predictor

    torch = pytest.importorskip("torch")
    model = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=256)
    frames = np.stack(make_synthetic_frames(num_frames=4, height=64, width=80))
    truth = np.zeros(frames.shape[:3], np.uint8)
    for t in range(4):
        truth[t, 10 + t : 40, 8 : 36 + 2 * t] = 1
        truth[t, 30:60, 45 : 75 - t] = 2
    labelled = np.array([True, False, True, True])
    seg = Sam2ImageSegmenter(model)
    oracle = segment_case(seg, frames, truth, labelled, [1, 2], start=0, protocol="oracle-box", batch_size=3)
    first = segment_case(seg, frames, truth, labelled, [1, 2], start=0, protocol="first-box", batch_size=3)

    # The library's public calls: predict_batch over the labelled frames (oracle boxes), and
    # one set_image + predict per frame chained on the previous masks (first box).
    with warnings.catch_warnings():  # sam2's torch.jit.script transforms; not under test
        warnings.simplefilter("ignore", FutureWarning)
        ref = SAM2ImagePredictor(model)
    ref._bb_feat_sizes = [(64, 64), (32, 32), (16, 16)]  # sam2 assumes 1024 px; this model is 256
    with torch.inference_mode():
        ref.set_image_batch([frames[t] for t in (0, 2, 3)])
        got, _, _ = ref.predict_batch(
            box_batch=[mask_to_box(truth[t] == np.array([1, 2])[:, None, None]) for t in (0, 2, 3)],
            multimask_output=False,
        )
    for t, m in zip((0, 2, 3), got):
        assert np.array_equal(oracle[t], m[:, 0] > 0)
    assert not oracle[1].any()
    boxes = mask_to_box(truth[0] == np.array([1, 2])[:, None, None])
    for t in range(4):
        with torch.inference_mode():
            ref.set_image(frames[t])
            m, _, _ = ref.predict(box=boxes, multimask_output=False)
        m = m[:, 0] > 0
        assert np.array_equal(first[t], m), t
        boxes = np.where(m.any(axis=(1, 2))[:, None], mask_to_box(m), boxes)
    assert 0 < first.mean() < 1
