"""``HFVideoPredictor``'s review calls (SAM 2's predictor semantics, what ``samurai app`` uses)
on tiny random-init transformers trackers of the three families.

Oracles: transformers' own model class driven through its streaming API, with SAM 2's
correction rule applied by hand (``hf_reference.LibraryReview``), bitwise, SAMURAI off; the
NumPy restatement of the SAMURAI rules (``samurai_reference``) for the decisions after a
correction, SAMURAI on; spies on the model for which frames a re-propagation touches.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import samurai_reference  # noqa: E402
from fixtures_hf import FAMILY_NAMES  # noqa: E402
from fixtures_sam2 import SYNTHETIC_BOXES, make_synthetic_frames  # noqa: E402
from hf_reference import LibraryReview, spy_frames  # noqa: E402

from samurai_hf import FAMILIES, HFVideoPredictor, build_samurai_hf_model, load_processor, read_family  # noqa: E402

pytestmark = pytest.mark.slow

FRAMES = make_synthetic_frames(6)
CORRECT_AT = 3
# A positive click right of object 1's box (x 14..46, y 28..52): outside its first-frame box.
CLICK = (52.0, 40.0)


@pytest.fixture(autouse=True)
def single_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _review_predictor(folder, samurai) -> HFVideoPredictor:
    predictor = HFVideoPredictor(build_samurai_hf_model(folder, samurai=None), load_processor(folder))
    predictor.configure_samurai(samurai)
    predictor.release_old_frames = False  # what samurai app sets
    predictor.add_all_frames_to_correct_as_cond = True
    return predictor


def _boxed_and_tracked(predictor):
    state = predictor.init_state(FRAMES)
    answers = [predictor.add_new_points_or_box(state, 0, o, box=SYNTHETIC_BOXES[o]) for o in (1, 2)]
    tracked = {t: logits.clone() for t, _, logits in predictor.propagate_in_video(state)}
    return state, answers, tracked


def _assert_same(want: dict, got: dict) -> None:
    assert sorted(want) == sorted(got)
    assert any(bool((m > 0).any()) for m in want.values())  # not a trivially empty comparison
    for t in want:
        assert torch.equal(want[t], got[t]), f"frame {t} differs"


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_box_click_and_repropagation_match_the_library(hf_tiny_folders, family, monkeypatch):
    folder = hf_tiny_folders[family]
    processor = load_processor(folder)
    library = FAMILIES[read_family(folder)][0].from_pretrained(str(folder)).eval()
    reference = LibraryReview(library, processor, FRAMES)
    reference.boxes(0, {o: SYNTHETIC_BOXES[o] for o in (1, 2)})
    want = reference.track(0, len(FRAMES))

    predictor = _review_predictor(folder, samurai=False)
    state, answers, tracked = _boxed_and_tracked(predictor)
    # Each box answers at once with every object's mask on its frame (SAM 2's return value).
    (f1, ids1, one), (f2, ids2, both) = answers
    assert (f1, ids1, f2, ids2) == (0, [1], 0, [1, 2])
    assert torch.equal(one, want[0][:1]) and torch.equal(both, want[0])
    _assert_same(want, tracked)

    forwards, features = spy_frames(monkeypatch, predictor.model)
    frame, ids, logits = predictor.add_new_points_or_box(
        state, CORRECT_AT, 1, points=np.array([CLICK]), labels=np.array([1]), clear_old_points=False
    )
    assert (frame, ids) == (CORRECT_AT, [1, 2])
    assert torch.equal(logits[:1], reference.click(CORRECT_AT, 1, CLICK, 1))
    assert torch.equal(logits[1:], want[CORRECT_AT][1:])  # the other object is not run
    assert not torch.equal(logits[0] > 0, want[CORRECT_AT][0] > 0)  # the click changed the mask
    again = {t: m.clone() for t, _, m in predictor.propagate_in_video(state, start_frame_idx=CORRECT_AT)}
    assert forwards == list(range(CORRECT_AT, len(FRAMES)))
    assert min(features) == CORRECT_AT  # no frame before the correction is looked at again
    _assert_same(reference.track(CORRECT_AT, len(FRAMES)), again)
    assert torch.equal(again[CORRECT_AT][:1], logits[:1])  # the clicked mask is kept
    # The corrected frame is object 1's conditioning frame: no tracking scores there.
    assert sorted(predictor.frame_scores(state, CORRECT_AT)) == [2]


def test_a_correction_restarts_the_motion_track(hf_tiny_folders):
    """SAMURAI on: after a click on frame k and a re-propagation from k, every later decision
    equals the rules' NumPy reference started afresh after k (as the SAM 2 backend restarts a
    track whose pass resumes elsewhere), and frames before k keep their first decisions."""
    predictor = _review_predictor(hf_tiny_folders["sam2_video"], samurai=True)
    cfg = predictor.samurai_config
    state, _, _ = _boxed_and_tracked(predictor)
    first = {t: predictor.frame_scores(state, t) for t in range(1, len(FRAMES))}
    predictor.add_new_points_or_box(
        state, CORRECT_AT, 1, points=np.array([CLICK]), labels=np.array([1]), clear_old_points=False
    )
    scores = {}
    for t, _, _ in predictor.propagate_in_video(state, start_frame_idx=CORRECT_AT):
        scores[t] = predictor.frame_scores(state, t)
    for t in range(1, CORRECT_AT):
        assert predictor.frame_scores(state, t)[1]["memory_frames"] == first[t][1]["memory_frames"]
    # Object 1 starts again after its corrected (conditioning) frame, object 2 on it (its pass
    # resumes there, away from where it stopped).
    frames = list(range(CORRECT_AT, len(FRAMES)))
    T, B, M = len(frames), 2, 3
    boxes, aff, obj = np.zeros((T, B, M, 4)), np.zeros((T, B, M)), np.zeros((T, B))
    stepped = np.array([[t > CORRECT_AT, True] for t in frames])
    for i, t in enumerate(frames):
        assert sorted(scores[t]) == [o for o, on in zip((1, 2), stepped[i]) if on]
        for b, o in enumerate((1, 2)):
            if stepped[i, b]:
                s = scores[t][o]
                boxes[i, b], aff[i, b], obj[i, b] = s["boxes"], s["aff"], s["obj"]
    ref = samurai_reference.run_reference(cfg, boxes, aff, obj, stepped, np.array(frames))
    for i, t in enumerate(frames):
        for b, o in enumerate((1, 2)):
            if not stepped[i, b]:
                continue
            s = scores[t][o]
            assert s["chosen"] == ref["chosen"][i, b], (t, o)
            assert s["stable_frames"] == ref["stable"][i, b], (t, o)
            assert s["memory_frames"] == [int(x) for x in ref["memory_frames"][i, b] if x >= 0], (t, o)
    # Restarted: the first frame after the correction has only the corrected frame behind it.
    assert scores[CORRECT_AT + 1][1]["stable_frames"] < first[CORRECT_AT + 1][1]["stable_frames"]


def test_prompt_errors_name_the_problem(hf_tiny_folders):
    predictor = _review_predictor(hf_tiny_folders["sam2_video"], samurai=False)
    state = predictor.init_state(FRAMES)
    with pytest.raises(ValueError, match="not a frame of this video"):
        predictor.add_new_points_or_box(state, len(FRAMES), 1, box=SYNTHETIC_BOXES[1])
    with pytest.raises(ValueError, match="together"):
        predictor.add_new_points_or_box(state, 0, 1, points=np.array([CLICK]))
    with pytest.raises(ValueError, match="points"):
        predictor.add_new_points_or_box(state, 0, 1)
