"""The transformers backend (SAM 2, EdgeTAM, SAM 3 tracker) on tiny random-init models saved
with ``save_pretrained`` and loaded back.

SAMURAI off must be bitwise the library's tracker (forward and reverse, two objects); SAMURAI on
with a configuration whose decisions are the library's (motion weight 0, memory gates open) must
also be bitwise the library's, which checks the restated candidate/memory path; with the real
rules, every frame's choice and memory equal the NumPy reference fed the run's recorded scores,
and the memory the model then attends to is the core's choice.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import samurai_reference  # noqa: E402
from fixtures_hf import FAMILY_NAMES  # noqa: E402
from fixtures_sam2 import SYNTHETIC_BOXES, make_synthetic_frames  # noqa: E402

import samurai_core as sc  # noqa: E402
import samurai_hf  # noqa: E402
from samurai_hf import build_samurai_hf_model, load_processor  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_torch_thread")]

FRAMES = make_synthetic_frames()
# Decisions equal to the library's: argmax predicted IoU, every past frame kept in memory.
LIBRARY_RULES = sc.preset(
    "tiny",
    kf_score_weight=0.0,
    memory_bank_iou_threshold=-1e9,
    memory_bank_obj_score_threshold=-1e9,
    memory_bank_kf_score_threshold=-1e9,
)


def _library(folder):
    from samurai_hf import FAMILIES, read_family

    return FAMILIES[read_family(folder)][0].from_pretrained(str(folder)).eval()


def _run(model, processor, start=0, reverse=False, obj_ids=(1, 2), on_frame=None):
    session = processor.init_video_session(video=FRAMES, inference_device="cpu")
    processor.add_inputs_to_inference_session(
        session, frame_idx=start, obj_ids=list(obj_ids), input_boxes=[[SYNTHETIC_BOXES[o] for o in obj_ids]]
    )
    model(inference_session=session, frame_idx=start)
    masks = {}
    for out in model.propagate_in_video_iterator(session, start_frame_idx=start, reverse=reverse):
        masks[out.frame_idx] = out.pred_masks.clone()
        if on_frame is not None:
            on_frame(session, out.frame_idx)
    return session, masks


def _assert_same(a, b):
    assert sorted(a) == sorted(b)
    assert any(bool((m > 0).any()) for m in a.values())  # not a trivially empty comparison
    for f in a:
        assert torch.equal(a[f], b[f]), f"frame {f} differs"


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_samurai_off_is_bitwise_the_library(hf_tiny_folders, family, reverse):
    folder = hf_tiny_folders[family]
    processor = load_processor(folder)
    start = 7 if reverse else 0
    _, want = _run(_library(folder), processor, start, reverse)
    model = build_samurai_hf_model(folder, samurai=None)
    assert model.samurai_config is None
    session, got = _run(model, processor, start, reverse)
    _assert_same(want, got)
    assert not hasattr(session, "samurai")


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_samurai_path_with_library_rules_is_bitwise_the_library(hf_tiny_folders, family):
    folder = hf_tiny_folders[family]
    processor = load_processor(folder)
    _, want = _run(_library(folder), processor)
    model = build_samurai_hf_model(folder, samurai=LIBRARY_RULES)
    session, got = _run(model, processor)
    _assert_same(want, got)
    scores = model.frame_scores(session, 7)
    assert sorted(scores) == [1, 2]
    assert all("kf_iou" in s for s in scores.values())  # the SAMURAI path did run


def _spy_memory(monkeypatch, model):
    """Which frames each (object, frame) attended to: read back from the outputs the memory
    gathering returned (identity within the session's stores)."""
    used = {}
    original = model._gather_memory_frame_outputs

    def spy(inference_session, obj_idx, frame_idx, track_in_reverse_time=False):
        gathered = original(inference_session, obj_idx, frame_idx, track_in_reverse_time)
        store = inference_session.output_dict_per_obj[obj_idx]["non_cond_frame_outputs"]
        frame_of = {id(out): f for f, out in store.items()}
        frames = [(offset, frame_of[id(out)]) for offset, out in gathered if offset > 0 and out is not None]
        # Newest first, as the core lists them.
        used[(inference_session.obj_idx_to_id(obj_idx), frame_idx)] = [f for _, f in sorted(frames)]
        return gathered

    monkeypatch.setattr(model, "_gather_memory_frame_outputs", spy)
    return used


def _samurai_run(model, processor, monkeypatch):
    steps = []
    original_step = sc.step

    def counting_step(cfg, state, cand):
        steps.append((int(cand.frame_idx), np.asarray(cand.stepped).copy()))
        return original_step(cfg, state, cand)

    monkeypatch.setattr(sc, "step", counting_step)
    used = _spy_memory(monkeypatch, model)
    scores = {}
    session, masks = _run(
        model, processor, on_frame=lambda s, f: scores.__setitem__(f, model.frame_scores(s, f))
    )
    monkeypatch.undo()
    return session, masks, scores, used, steps


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_samurai_decisions_and_attended_memory_match_reference(hf_tiny_folders, family, monkeypatch):
    folder = hf_tiny_folders[family]
    processor = load_processor(folder)
    # A first pass finds this random model's range of predicted IoUs; the second puts the
    # memory gate in its middle and starts motion scoring after 2 frames, so that warm-up,
    # motion scoring and the gate open and shut all happen.
    probe = build_samurai_hf_model(folder, samurai="tiny")
    _, _, scores, _, _ = _samurai_run(probe, processor, monkeypatch)
    gate = float(np.median([s["aff"][s["chosen"]] for fs in scores.values() for s in fs.values()]))
    cfg = sc.preset("tiny", stable_frames_threshold=2, memory_bank_iou_threshold=gate)
    model = build_samurai_hf_model(folder, samurai=cfg)
    session, _, scores, used, steps = _samurai_run(model, processor, monkeypatch)
    cfg = session.samurai.config
    obj_ids, frames = [1, 2], list(range(1, 8))
    T, B, M = len(frames), len(obj_ids), 3
    boxes, aff = np.zeros((T, B, M, 4)), np.zeros((T, B, M))
    obj, stepped = np.zeros((T, B)), np.ones((T, B), bool)
    for t, f in enumerate(frames):
        for b, o in enumerate(obj_ids):
            s = scores[f][o]
            boxes[t, b], aff[t, b], obj[t, b] = s["boxes"], s["aff"], s["obj"]
            np.testing.assert_array_equal(s["aff"], s["ious"])
    ref = samurai_reference.run_reference(cfg, boxes, aff, obj, stepped, np.array(frames))
    for t, f in enumerate(frames):
        for b, o in enumerate(obj_ids):
            s = scores[f][o]
            assert s["chosen"] == ref["chosen"][t, b], (f, o)
            assert s["stable_frames"] == ref["stable"][t, b], (f, o)
            want = [int(x) for x in ref["memory_frames"][t, b] if x >= 0]
            assert s["memory_frames"] == want, (f, o)
            if f + 1 <= 7:  # what the model attended to on the object's next frame
                assert used[(o, f + 1)] == want[: cfg.num_maskmem - 1], (f + 1, o)
    assert ref["kf_valid"].any()
    assert any(len(s["memory_frames"]) < min(6, f) for f, fs in scores.items() for s in fs.values())
    # One core step per tracking frame for both objects together; none on the prompted frame.
    assert [f for f, _ in steps] == frames
    assert all(st[:2].tolist() == [True, True] for _, st in steps)


def test_a_session_reset_starts_new_tracks(hf_tiny_folders):
    folder = hf_tiny_folders["sam2_video"]
    processor = load_processor(folder)
    model = build_samurai_hf_model(folder, samurai="tiny")
    session, first = _run(model, processor)
    session.reset_inference_session()
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=[1, 2], input_boxes=[[SYNTHETIC_BOXES[1], SYNTHETIC_BOXES[2]]]
    )
    model(inference_session=session, frame_idx=0)
    again = {o.frame_idx: o.pred_masks.clone() for o in model.propagate_in_video_iterator(session)}
    _assert_same(first, again)


def test_a_model_instance_is_converted_in_place(hf_tiny_folders):
    folder = hf_tiny_folders["edgetam_video"]
    library = _library(folder)
    weights = {k: v.clone() for k, v in library.state_dict().items()}
    model = build_samurai_hf_model(library, samurai="tiny")
    assert model is library and isinstance(model, samurai_hf.SamuraiEdgeTamVideoModel)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_a_mismatched_transformers_version_is_refused(hf_tiny_folders, monkeypatch):
    import transformers

    samurai_hf.check_transformers_version(samurai_hf.TRANSFORMERS_VERSION)
    with pytest.raises(
        samurai_hf.TransformersVersionError, match=r"transformers 5\.99\.0 is installed.*pip install"
    ):
        samurai_hf.check_transformers_version("5.99.0")
    monkeypatch.setattr(transformers, "__version__", "4.56.1")
    with pytest.raises(samurai_hf.TransformersVersionError, match="written against transformers 5.24"):
        build_samurai_hf_model(hf_tiny_folders["sam2_video"])


def test_the_installed_transformers_is_the_pinned_one():
    import transformers

    assert transformers.__version__ == samurai_hf.TRANSFORMERS_VERSION


def test_bad_folders_are_explained(tmp_path, hf_tiny_folders):
    with pytest.raises(ValueError, match="is not a folder"):
        build_samurai_hf_model(tmp_path / "missing")
    with pytest.raises(ValueError, match="no config.json"):
        build_samurai_hf_model(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="holds a 'bert' model.*video trackers"):
        build_samurai_hf_model(tmp_path)
    with pytest.raises(TypeError, match="preset name"):
        build_samurai_hf_model(hf_tiny_folders["sam2_video"], samurai=0.25)


def test_the_package_pins_the_release_the_backend_checks():
    from pathlib import Path

    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert f"transformers=={samurai_hf.TRANSFORMERS_VERSION}" in project["optional-dependencies"]["hf"]


def test_streamed_tracking_keeps_memory_flat(hf_tiny_folders):
    """HFVideoPredictor drops each frame once tracked and every output beyond the look-back."""
    from samurai_hf import HFVideoPredictor

    folder = hf_tiny_folders["sam2_video"]
    predictor = HFVideoPredictor(build_samurai_hf_model(folder, samurai=None), load_processor(folder))
    reach = predictor.look_back()
    assert reach == 15  # object pointers: max_object_pointers_in_encoder - 1
    frames = make_synthetic_frames(num_frames=reach + 5)
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, SYNTHETIC_BOXES[1])
    session = state["session"]
    for t, ids, logits in predictor.propagate_in_video(state):
        assert ids == [1] and logits.shape == (1, 1, 96, 128)
        assert len(session.processed_frames) == 0
        kept = sorted(session.output_dict_per_obj[0]["non_cond_frame_outputs"])
        assert kept == list(range(max(1, t - reach + 1), t + 1))


def test_streamed_tracking_reads_a_video_until_its_frames_end(hf_tiny_folders, tmp_path):
    """A video file is tracked until decoding ends, not to its container's count: one that
    announces 3 of its 6 frames and one cut after 4 frames give every frame read, with the
    masks of the same frames given in memory."""
    pytest.importorskip("cv2")
    from fixtures_sam2 import write_truncated_avi, write_underannounced_avi

    from samurai_hf import HFVideoPredictor

    folder = hf_tiny_folders["sam2_video"]
    predictor = HFVideoPredictor(build_samurai_hf_model(folder, samurai=None), load_processor(folder))
    frames = make_synthetic_frames(num_frames=6)
    under = write_underannounced_avi(tmp_path / "under.avi", frames, announced=3)
    cut = write_truncated_avi(tmp_path / "cut.avi", frames[:5])
    for path, (announced, decoded) in ((tmp_path / "under.avi", under), (tmp_path / "cut.avi", cut)):
        assert (announced, len(decoded)) in ((3, 6), (5, 4))  # the premises, read with OpenCV
        runs = []
        for video in (str(path), decoded):
            state = predictor.init_state(video)
            predictor.add_new_points_or_box(state, 0, 1, SYNTHETIC_BOXES[1])
            runs.append({t: logits.clone() for t, _, logits in predictor.propagate_in_video(state)})
        assert sorted(runs[0]) == sorted(runs[1]) == list(range(len(decoded)))
        for t in runs[1]:
            torch.testing.assert_close(runs[0][t], runs[1][t], rtol=0, atol=0)


def test_frame_scores_cover_the_library_tracker_too(hf_tiny_folders):
    """``frame_scores`` has one behaviour in both backends: every object tracked on the frame
    has an entry, SAMURAI on or off; with the library's own tracker (which drops the candidate
    scores) it holds the object score the library returned for that frame."""
    folder = hf_tiny_folders["sam2_video"]
    processor = load_processor(folder)
    model = build_samurai_hf_model(folder, samurai=None)
    returned, scores = {}, {}

    session = processor.init_video_session(video=FRAMES[:4], inference_device="cpu")
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=[1, 2], input_boxes=[[SYNTHETIC_BOXES[1], SYNTHETIC_BOXES[2]]]
    )
    model(inference_session=session, frame_idx=0)
    for out in model.propagate_in_video_iterator(session):
        returned[out.frame_idx] = out.object_score_logits.reshape(-1).tolist()
        scores[out.frame_idx] = model.frame_scores(session, out.frame_idx)
    assert scores[0] == {}  # the prompted frame: no tracking output
    for f in (1, 2, 3):
        assert sorted(scores[f]) == [1, 2]
        assert all(s.keys() == {"object_score"} for s in scores[f].values())
        assert [scores[f][o]["object_score"] for o in (1, 2)] == pytest.approx(returned[f], abs=0)
