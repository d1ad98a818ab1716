"""The SAMURAI video predictor on a random-init hiera-tiny (256 px) and a synthetic video.

References: sam2's own SAM2VideoPredictor (SAMURAI off, bitwise) and the NumPy restatement of
the SAMURAI rules in ``samurai_reference`` (SAMURAI on, fed the scores the run recorded).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

import samurai_reference  # noqa: E402
from fixtures_sam2 import (  # noqa: E402
    IMAGE_SIZE,
    SYNTHETIC_BOXES,
    TINY_CONFIG,
    make_synthetic_frames,
    write_truncated_avi,
    write_underannounced_avi,
)

import samurai_core as sc  # noqa: E402
from samurai_sam2 import build_samurai_video_predictor  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vanilla(sam2_tiny_checkpoint):
    from sam2.build_sam import build_sam2_video_predictor

    return build_sam2_video_predictor(
        TINY_CONFIG,
        str(sam2_tiny_checkpoint),
        device="cpu",
        hydra_overrides_extra=[f"++model.image_size={IMAGE_SIZE}"],
    )


def _build(ckpt, **kwargs):
    return build_samurai_video_predictor("tiny", ckpt, device="cpu", image_size=IMAGE_SIZE, **kwargs)


@pytest.fixture(scope="module")
def samurai_off(sam2_tiny_checkpoint):
    return _build(sam2_tiny_checkpoint, samurai=False)


@pytest.fixture(scope="module")
def samurai_on(sam2_tiny_checkpoint):
    return _build(sam2_tiny_checkpoint)


def _prompt(predictor, state, frame_box=0, frame_click=0):
    predictor.add_new_points_or_box(state, frame_box, 1, box=SYNTHETIC_BOXES[1])
    predictor.add_new_points_or_box(state, frame_click, 2, points=[[95.0, 60.0]], labels=[1])


def _run(predictor, state, **kwargs):
    return {f: (list(ids), m.clone()) for f, ids, m in predictor.propagate_in_video(state, **kwargs)}


def _assert_same_masks(a, b):
    assert list(a) == list(b)
    for f in a:
        assert a[f][0] == b[f][0]
        assert torch.equal(a[f][1], b[f][1]), f"masks differ on frame {f}"


def test_samurai_off_is_bitwise_sam2_forward(vanilla, samurai_off, synthetic_jpeg_video):
    video = str(synthetic_jpeg_video)
    ref_state = vanilla.init_state(video)
    _prompt(vanilla, ref_state)
    ref = _run(vanilla, ref_state)
    state = samurai_off.init_state(video)  # streamed, preprocessed lazily
    _prompt(samurai_off, state)
    got = _run(samurai_off, state)
    assert len(got) == 8
    _assert_same_masks(got, ref)
    # The predicted IoUs SAM 2 drops are kept: all candidates, argmax chosen.
    scores = samurai_off.frame_scores(state, 5)
    assert set(scores) == {1, 2}
    for s in scores.values():
        assert s["ious"].shape == (3,) and s["chosen"] == int(np.argmax(s["ious"]))


def test_samurai_off_is_bitwise_sam2_reverse(vanilla, samurai_off, synthetic_jpeg_video):
    video = str(synthetic_jpeg_video)
    results = []
    for predictor in (vanilla, samurai_off):
        state = predictor.init_state(video)
        predictor.add_new_points_or_box(state, 5, 1, box=SYNTHETIC_BOXES[1])
        results.append(_run(predictor, state, start_frame_idx=5, reverse=True))
    assert list(results[1]) == [5, 4, 3, 2, 1, 0]
    _assert_same_masks(results[1], results[0])


def _record_memory(monkeypatch, predictor):
    """Spy: which memory frames each (object, frame) attended to."""
    used = {}
    original = predictor._memory_conditioned_features

    def spy(*, frame_idx, output_dict, memory_frames, **kwargs):
        used[(id(output_dict), frame_idx)] = list(memory_frames)
        return original(frame_idx=frame_idx, output_dict=output_dict, memory_frames=memory_frames, **kwargs)

    monkeypatch.setattr(predictor, "_memory_conditioned_features", spy)
    return used


def _samurai_run(predictor, video, monkeypatch, box_frames, **propagate_kwargs):
    """Propagate forward; returns masks, per-frame scores, memory used and the step count."""
    steps = []
    original_step = sc.step

    def counting_step(cfg, state, cand):
        steps.append((int(cand.frame_idx), np.asarray(cand.stepped).copy()))
        return original_step(cfg, state, cand)

    monkeypatch.setattr(sc, "step", counting_step)
    used = _record_memory(monkeypatch, predictor)
    state = predictor.init_state(video)
    for obj_id, frame in box_frames.items():
        predictor.add_new_points_or_box(state, frame, obj_id, box=SYNTHETIC_BOXES[obj_id])
    masks, scores = {}, {}
    for f, ids, m in predictor.propagate_in_video(state, **propagate_kwargs):
        masks[f] = m.clone()
        scores[f] = predictor.frame_scores(state, f)
    monkeypatch.undo()
    return state, masks, scores, used, steps


def _check_against_reference(predictor, state, scores, used, box_frames):
    """Every frame's chosen candidate and memory frames equal the NumPy reference's, fed the
    candidates this run recorded; the memory attended to on frame t is the core's choice at t-1."""
    cfg = state["samurai"]["tracks"].config
    obj_ids = sorted(box_frames)
    frames = sorted(scores)
    T, B, M, K = len(frames), len(obj_ids), 3, cfg.num_maskmem - 1
    boxes = np.zeros((T, B, M, 4))
    aff = np.zeros((T, B, M))
    obj = np.zeros((T, B))
    stepped = np.zeros((T, B), bool)
    for t, f in enumerate(frames):
        for b, o in enumerate(obj_ids):
            s = scores[f].get(o)
            if s is not None:
                boxes[t, b], aff[t, b], obj[t, b], stepped[t, b] = s["boxes"], s["aff"], s["obj"], True
                np.testing.assert_array_equal(s["aff"], s["ious"])
    ref = samurai_reference.run_reference(cfg, boxes, aff, obj, stepped, np.array(frames))
    out_dicts = {o: id(state["output_dict_per_obj"][state["obj_id_to_idx"][o]]) for o in obj_ids}
    for t, f in enumerate(frames):
        for b, o in enumerate(obj_ids):
            if not stepped[t, b]:
                assert f == box_frames[o]  # only the prompted frame is not stepped
                continue
            s = scores[f][o]
            assert s["chosen"] == ref["chosen"][t, b], (f, o)
            assert s["stable_frames"] == ref["stable"][t, b], (f, o)
            want = [int(x) for x in ref["memory_frames"][t, b] if x >= 0]
            assert s["memory_frames"] == want, (f, o)
            # What SAM 2 attended to on the next frame of this object.
            nxt = used.get((out_dicts[o], f + 1))
            if nxt is not None:
                assert nxt == want, (f + 1, o)
    return ref


def test_samurai_decisions_match_reference(sam2_tiny_checkpoint, synthetic_jpeg_video, monkeypatch):
    video = str(synthetic_jpeg_video)
    box_frames = {1: 0, 2: 0}
    # Pass 1 with the preset finds this random model's range of predicted IoUs; pass 2 puts the
    # memory gate in the middle of it and starts motion scoring after 2 frames, so that every
    # branch (warm-up, motion scoring, gate open and shut) fires.
    probe = _build(sam2_tiny_checkpoint)
    _, _, scores, _, _ = _samurai_run(probe, video, monkeypatch, box_frames, max_frame_num_to_track=3)
    chosen_aff = sorted(s["aff"][s["chosen"]] for fs in scores.values() for s in fs.values())
    gate = float(np.median(chosen_aff))
    cfg = sc.preset("tiny", stable_frames_threshold=2, memory_bank_iou_threshold=gate)
    predictor = _build(sam2_tiny_checkpoint, samurai_config=cfg)
    state, masks, scores, used, steps = _samurai_run(predictor, video, monkeypatch, box_frames)
    assert state["samurai"]["tracks"].config == cfg
    ref = _check_against_reference(predictor, state, scores, used, box_frames)
    assert ref["kf_valid"].any() and not ref["kf_valid"].all()
    # The gate shut on some frames: fewer memory frames than the frames stepped so far
    # (frames 1..f; at most 6), which SAM 2's own rule would have used.
    assert any(len(s["memory_frames"]) < min(6, f) for f, fs in scores.items() for s in fs.values())
    # One core step per frame for both objects together; none on the prompted frame.
    assert [f for f, _ in steps] == list(range(1, 8))
    assert all(st[:2].tolist() == [True, True] for _, st in steps)


def test_object_entering_later_and_capacity_growth(sam2_tiny_checkpoint, synthetic_jpeg_video, monkeypatch):
    video = str(synthetic_jpeg_video)
    cfg = sc.preset("tiny", stable_frames_threshold=2)
    predictor = _build(sam2_tiny_checkpoint, samurai_config=cfg)
    box_frames = {1: 0, 2: 3}
    state, masks, scores, used, steps = _samurai_run(predictor, video, monkeypatch, box_frames)
    _check_against_reference(predictor, state, scores, used, box_frames)
    assert len(steps) == 8  # every frame has at least one tracked object: one step each
    slot_of = state["samurai"]["tracks"].slot_of
    f3 = dict(steps)[3]
    assert f3[slot_of[1]] and not f3[slot_of[2]]  # object 2 is prompted on frame 3: not stepped
    assert masks[5].shape == (2, 1, 96, 128)
    # A video with more objects than the core's initial capacity: slots double.
    state = predictor.init_state(video)
    boxes = [[10 + 8 * k, 10, 30 + 8 * k, 40] for k in range(5)]
    for k, box in enumerate(boxes):
        predictor.add_new_points_or_box(state, 0, 10 + k, box=box)
    for f, ids, m in predictor.propagate_in_video(state, max_frame_num_to_track=1):
        pass
    tracks = state["samurai"]["tracks"]
    assert tracks.state.active.shape == (8,)
    assert sorted(tracks.slot_of.values()) == [0, 1, 2, 3, 4]
    assert np.asarray(tracks.state.active).tolist() == [True] * 5 + [False] * 3
    predictor.remove_object(state, 12)
    assert 12 not in tracks.slot_of and not bool(tracks.state.active[2])
    predictor.reset_state(state)
    tracks = state["samurai"]["tracks"]
    assert tracks.slot_of == {} and not bool(tracks.state.active.any())


def test_streaming_equals_preloaded(samurai_on, synthetic_jpeg_video):
    from PIL import Image

    video = str(synthetic_jpeg_video)
    runs = []
    frames = [np.array(Image.open(p).convert("RGB")) for p in sorted(synthetic_jpeg_video.iterdir())]
    for source, stream in ((video, False), (video, True), (iter(frames), True)):
        if not isinstance(source, str):
            from samurai_common.frames import open_frames

            source = open_frames(source, num_frames=len(frames))
        state = samurai_on.init_state(source, stream=stream)
        samurai_on.add_new_points_or_box(state, 0, 1, box=SYNTHETIC_BOXES[1])
        runs.append(_run(samurai_on, state, max_frame_num_to_track=4))
    assert isinstance(runs[0], dict) and len(runs[0]) == 5
    _assert_same_masks(runs[1], runs[0])
    _assert_same_masks(runs[2], runs[0])


def _assert_tracked_as_in_memory(predictor, path, decoded):
    """Tracking the video file ``path`` gives every frame that decodes, with the masks of the
    same ``decoded`` frames given in memory."""
    state = predictor.init_state(str(path))
    predictor.add_new_points_or_box(state, 0, 1, box=SYNTHETIC_BOXES[1])
    got = _run(predictor, state)
    assert list(got) == list(range(len(decoded))) and state["num_frames"] == len(decoded)
    ref_state = predictor.init_state(decoded)
    predictor.add_new_points_or_box(ref_state, 0, 1, box=SYNTHETIC_BOXES[1])
    _assert_same_masks(got, _run(predictor, ref_state))


def test_video_ending_before_its_announced_count_stops_cleanly(samurai_on, tmp_path):
    """A file that decodes fewer frames than its container announces: propagation ends at the
    last decodable frame with the masks of the same frames given in memory. (17 frames: SAM 2
    scales object-pointer positions by min(num_frames, 16), so on shorter videos the announced
    count itself would change the logits slightly.)"""
    pytest.importorskip("cv2")
    path = tmp_path / "cut.avi"
    announced, decoded = write_truncated_avi(path, make_synthetic_frames(num_frames=18))
    assert (announced, len(decoded)) == (18, 17)
    _assert_tracked_as_in_memory(samurai_on, path, decoded)


def test_video_holding_more_frames_than_it_announces_is_tracked_to_its_end(samurai_on, tmp_path):
    """A container that announces 16 of its 18 frames (its stream header patched): every frame
    that decodes is tracked, with the masks of the same frames given in memory (16 announced:
    object-pointer positions scale by min(num_frames, 16), the same as with 18)."""
    pytest.importorskip("cv2")
    path = tmp_path / "under.avi"
    announced, decoded = write_underannounced_avi(path, make_synthetic_frames(num_frames=18), 16)
    assert (announced, len(decoded)) == (16, 18)
    _assert_tracked_as_in_memory(samurai_on, path, decoded)


def test_old_outputs_are_released_without_changing_masks(sam2_tiny_checkpoint):
    # A small look-back (4 object pointers, a 6-frame ring) so that a 14-frame video exceeds it.
    # The config states the model's pointer budget (a mismatch is refused, not rewritten).
    cfg = sc.preset("tiny", memory_window=6, stable_frames_threshold=2, max_obj_ptrs_in_encoder=4)
    frames = make_synthetic_frames(num_frames=14, height=64, width=80)
    runs, sizes = [], []
    for release in (True, False):
        predictor = build_samurai_video_predictor(
            "tiny",
            sam2_tiny_checkpoint,
            device="cpu",
            image_size=128,
            samurai_config=cfg,
            hydra_overrides_extra=["++model.max_obj_ptrs_in_encoder=4"],
            release_old_frames=release,
        )
        state = predictor.init_state(frames)
        predictor.add_new_points_or_box(state, 0, 1, box=[8.0, 18.0, 32.0, 40.0])
        masks, stored = {}, []
        for f, _, m in predictor.propagate_in_video(state):
            masks[f] = ([1], m.clone())
            stored.append(len(state["output_dict_per_obj"][0]["non_cond_frame_outputs"]))
        runs.append(masks)
        sizes.append(stored)
        keep = predictor.look_back(state)
    assert keep == 6  # max(4 - 1 pointer frames, 1 + 1·(7 - 2) memory frames, ring of 6)
    _assert_same_masks(runs[0], runs[1])  # nothing still needed was released
    assert max(sizes[0]) == keep and sizes[0][-1] == keep  # bounded
    assert sizes[1][-1] == 13  # without release every tracked frame stays
    assert 0 in state["output_dict_per_obj"][0]["cond_frame_outputs"]


@pytest.fixture(scope="module")
def small_state(samurai_on):
    return samurai_on.init_state(make_synthetic_frames(num_frames=3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"box": [-30.0, 10.0, 50.0, 60.0]}, r"lies outside the 128x96 frame.*np\.clip"),
        ({"box": [10.0, 10.0, 200.0, 60.0]}, r"lies outside the 128x96 frame"),
        ({"box": [40.0, 10.0, 39.0, 60.0]}, r"negative width/height.*lasot_to_xyxy"),
        ({"box": [40.0, 60.0, 50.0, 10.0]}, r"negative width/height"),
        ({"box": [0.0, 0.0, 0.0, 0.0]}, r"is empty \(all zeros: the box of an empty mask\)"),
        ({"box": [1.0, 2.0, 3.0]}, r"box must have 4 numbers"),
        ({"points": [[500.0, 20.0]], "labels": [1]}, r"points .* lies outside"),
    ],
)
def test_bad_prompts_are_rejected(samurai_on, small_state, kwargs, message):
    with pytest.raises(ValueError, match=message):
        samurai_on.add_new_points_or_box(small_state, 0, 1, **kwargs)


def test_bad_frame_and_mask(samurai_on, small_state):
    with pytest.raises(ValueError, match=r"frame_idx=3 is not a frame of this video \(0\.\.2\)"):
        samurai_on.add_new_points_or_box(small_state, 3, 1, box=[1.0, 1.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="is empty; give a mask with at least one foreground"):
        samurai_on.add_new_mask(small_state, 0, 1, np.zeros((96, 128), bool))
    with pytest.raises(ValueError, match="2-D H×W"):
        samurai_on.add_new_mask(small_state, 0, 1, np.ones((1, 96, 128), bool))


def test_a_new_pass_restarts_the_motion_track(samurai_on):
    """Memory bookkeeping across passes: a jump or a change of direction restarts the track."""
    tracks = samurai_on._new_samurai_state()["tracks"]
    slot = tracks.slot(7)
    assert tracks.memory_frames(7, 4, False) == [3]  # first frame: previous only
    tracks.memory[7] = [4, 2]  # as the core would set after stepping frame 4
    assert tracks.memory_frames(7, 5, False) == [4, 2]  # continuing the pass
    tracks.memory[7] = [5, 4, 2]
    st = tracks.state  # a stable track: stable_frames is int row 0 of the packed state
    tracks.state = type(st)(st.f, st.i.at[0, slot].set(9), st.sizes)
    assert int(tracks.state.stable_frames[slot]) == 9
    # Reverse from frame 5: another direction, the track restarts (stability 0, no memory).
    assert tracks.memory_frames(7, 5, True) == [6]
    assert int(tracks.state.stable_frames[slot]) == 0 and bool(tracks.state.active[slot])
    assert tracks.memory_frames(7, 4, True) == [5]
    # A jump forward restarts again.
    tracks.memory[7] = [4]
    assert tracks.memory_frames(7, 9, False) == [8]
