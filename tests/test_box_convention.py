"""One mask, one box: every place that makes a box from a mask agrees (docs/core.md, "Boxes").

On the same masks: the box prompt ``eval`` gives the predictor, the candidate box the SAM 2
backend hands to ``samurai_core.step`` (the Kalman measurement), the phantom segmenter's
candidate box, the training clip's prompt, ``calibrate --dataset``'s box, the LaSOT file
``track`` / ``eval`` write (and read back) and the box ``eval`` scores.
"""

from __future__ import annotations

import numpy as np
import pytest

import samurai_core as sc

S = 256  # the model's input size: the backend's masks live at this resolution


def _masks():
    """A filled blob, a one-pixel mask, a thin line and a full mask, all S x S."""
    yy, xx = np.mgrid[:S, :S]
    blob = ((xx - 97) / 40.0) ** 2 + ((yy - 141) / 23.0) ** 2 <= 1.0
    blob[60:64, 200:230] = True  # a second part: the box spans both
    pixel = np.zeros((S, S), bool)
    pixel[17, 5] = True
    line = np.zeros((S, S), bool)
    line[30:90, 44] = True
    return [blob, pixel, line, np.ones((S, S), bool)]


def _oracle(mask) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max(), ys.max()]


@pytest.mark.parametrize("k", range(4))
def test_app_boxes_agree(k, tmp_path):
    from samurai.calibration_tracks import mask_boxes
    from samurai.eval.metrics import masks_to_xywh
    from samurai.formats import read_lasot_boxes, write_lasot_boxes
    from samurai.prompts import echo_prompts

    mask = _masks()[k]
    labels = mask.astype(np.uint8) * 3
    prompt = echo_prompts(labels, [3], "box")[3]
    assert prompt[0] == "box"
    box = prompt[1]
    np.testing.assert_array_equal(box, _oracle(mask))

    calib, present = mask_boxes(labels[None], np.array([True]), 3)
    assert present[0]
    np.testing.assert_array_equal(calib[0], box)

    scored = masks_to_xywh(mask[None])[0]  # the box eval scores (LaSOT x, y, w, h)
    path = tmp_path / "boxes.txt"
    write_lasot_boxes(path, box[None])  # what track / eval write for this mask
    exported = read_lasot_boxes(path)[0]
    np.testing.assert_array_equal(exported, scored)
    x0, y0, x1, y1 = box
    np.testing.assert_array_equal(scored, [x0, y0, x1 - x0 + 1, y1 - y0 + 1])
    np.testing.assert_array_equal(sc.lasot_to_xyxy(exported), box)  # eval --lasot's prompt


def test_phantom_and_training_boxes_agree():
    pytest.importorskip("torch")
    from samurai.data import EchoCase
    from samurai.train.clips import make_clip
    from samurai_phantom.segmenter import PhantomSegmenter

    blob = _masks()[0]
    labels = np.stack([blob, blob]).astype(np.uint8)
    frames = np.where(labels > 0, 10, 200).astype(np.uint8)  # a dark pool on a bright field
    case = EchoCase("c", frames, labels, np.ones(2, bool), {1: "LV"})
    clip = make_clip(case, [0, 1], S)  # input size = mask size: no rescaling
    np.testing.assert_array_equal(clip.boxes[0].numpy(), _oracle(blob))

    props = PhantomSegmenter(thresholds=(0.5,)).propose(frames[1], labels[:1] > 0)
    j = int(np.argmax([(m & blob).sum() / (m | blob).sum() for m in props.masks[0]]))
    assert (props.masks[0, j] == blob).mean() > 0.99
    np.testing.assert_array_equal(props.boxes[0, j], sc.mask_to_box(props.masks[0, j]))


def test_backend_kalman_measurement_is_the_prompt_box(sam2_tiny_checkpoint):
    """The candidate boxes the SAM 2 backend hands to ``samurai_core.step`` for mask logits
    equal ``mask_to_box`` of the masks (what ``eval`` would prompt with)."""
    torch = pytest.importorskip("torch")
    from samurai_common.candidates import Candidates
    from samurai_sam2 import build_samurai_video_predictor

    pred = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=S)
    masks = np.stack(_masks()[:3])  # M = 3 candidates of one object
    logits = torch.from_numpy(np.where(masks, 4.0, -4.0).astype(np.float32))[None]
    cand = Candidates(None, logits, torch.tensor([[0.9, 0.5, 0.2]]), None, torch.tensor([[3.0]]), True)
    state = {"samurai": pred._new_samurai_state(True), "obj_idx_to_id": {0: 1}, "device": torch.device("cpu")}
    _, records = pred._samurai_decide(state, 0, [(0, cand)])
    handed = records[0].as_dict()["boxes"]
    np.testing.assert_array_equal(handed, [_oracle(m) for m in masks])
    np.testing.assert_array_equal(handed, sc.mask_to_box(masks))

    # A one-pixel-wide structure's box (x_min == x_max) is a valid prompt.
    video = pred.init_state(np.zeros((2, 64, 64, 3), np.uint8))
    thin = np.zeros((64, 64), bool)
    thin[10:30, 7] = True
    box = sc.mask_to_box(thin)
    assert box[0] == box[2]
    _, obj_ids, _ = pred.add_new_points_or_box(video, frame_idx=0, obj_id=1, box=box)
    assert obj_ids == [1]
