"""`samurai eval` end to end on a clip long enough for SAMURAI's motion scoring to act.

The other end-to-end eval tests use 3-5 frames: fewer than the 15 stable frames motion scoring
waits for. Here a 24-frame phantom (one object, the LV) is evaluated with random-init SAM 2.1
hiera-tiny at 256 px, the per-frame decisions of both runs are recorded, and the differences
the rules imply are asserted against the NumPy reference fed with the recorded candidates.

The scenario, stated from the recorded scores: this model predicts IoUs near 0.54, so the test
sets the preset's memory gate (``memory_bank_iou_threshold``) to 0.6, which no frame passes;
SAMURAI's memory is then the previous frame alone (rule 5) while vanilla's is the last six
frames. Both runs attend to the same memory on frames 1 and 2 and give the same masks there;
from frame 3 on the memories differ and so do the masks and the eval's rows. Motion scoring
starts after 15 stable frames; a random decoder's three candidates cover one box (its masks are
scattered over the frame), so the motion IoUs tie and the choice stays the argmax, as the
reference says.
"""

import csv
import json

import numpy as np
import pytest
import samurai_reference
from PIL import Image

from samurai.cli import main

pytestmark = pytest.mark.slow

N_FRAMES = 24
GATE = 0.6  # memory_bank_iou_threshold for this test: above every predicted IoU of the model


@pytest.fixture(scope="module")
def lv_clip(tmp_path_factory):
    """The phantom's first 24 frames in the generic layout, LV labelled on every frame."""
    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=N_FRAMES, size=64, dropout=None, rv_dropout=None)
    root = tmp_path_factory.mktemp("generic")
    case = root / "lv-long"
    (case / "frames").mkdir(parents=True)
    (case / "masks").mkdir()
    for t in range(N_FRAMES):
        Image.fromarray(ph.frames[t]).save(case / "frames" / f"{t:05d}.png")
        Image.fromarray(((ph.masks[t] == 1) * 1).astype(np.uint8)).save(case / "masks" / f"{t:05d}.png")
    (root / "labels.json").write_text(json.dumps({"1": "LV"}))
    return root, ph.masks == 1


@pytest.fixture(scope="module")
def recorded_eval(lv_clip, sam2_tiny_checkpoint, tmp_path_factory):
    """Run `samurai eval` once, recording each run's masks and per-frame scores."""
    import samurai.tracking as track_cmd

    root, _ = lv_clip
    runs = []
    real = track_cmd.sam2_track

    def recording(predictor, source, prompts, samurai=None):
        rec = {"samurai": samurai, "masks": {}, "scores": {}}
        runs.append(rec)
        for t, masks, scores in real(predictor, source, prompts, samurai):
            rec["masks"][t], rec["scores"][t] = masks[1], scores.get(1)
            yield t, masks, scores

    import samurai_core.config as sc_config

    mp = pytest.MonkeyPatch()
    mp.setattr(track_cmd, "sam2_track", recording)
    mp.setitem(sc_config.PRESETS, "tiny", sc_config.PRESETS["tiny"]._replace(memory_bank_iou_threshold=GATE))
    out = tmp_path_factory.mktemp("eval") / "out"
    try:
        rc = main(
            [
                "eval",
                str(root),
                "--checkpoint",
                str(sam2_tiny_checkpoint),
                "--image-size",
                "256",
                "--out",
                str(out),
            ]
        )
    finally:
        mp.undo()
    assert rc == 0
    return out, runs


def _rows(path):
    return {r["method"]: r for r in csv.DictReader(path.read_text().splitlines())}


def test_long_eval_vanilla_and_samurai_differ_as_the_rules_say(recorded_eval, lv_clip):
    from samurai.eval.metrics import dice, iou

    out, runs = recorded_eval
    _, truth = lv_clip
    assert [r["samurai"] for r in runs] == [False, True]
    van, sam = runs
    frames = list(range(1, N_FRAMES))
    assert sorted(van["scores"]) == sorted(sam["scores"]) == [0, *frames]

    # Vanilla: SAM 2's rule, the argmax of the predicted IoUs, on every frame.
    for t in frames:
        s = van["scores"][t]
        assert s["chosen"] == int(np.argmax(s["ious"])) and "memory_frames" not in s

    # SAMURAI: every decision is the reference's, fed the candidates this run recorded.
    import samurai_core as sc

    cfg = sc.preset("tiny", memory_bank_iou_threshold=GATE)
    rec = [sam["scores"][t] for t in frames]
    ref = samurai_reference.run_reference(
        cfg,
        np.array([r["boxes"] for r in rec])[:, None],
        np.array([r["aff"] for r in rec])[:, None],
        np.array([[r["obj"]] for r in rec]),
        np.ones((len(frames), 1), bool),
        np.array(frames),
    )
    for i, (t, r) in enumerate(zip(frames, rec)):
        assert r["chosen"] == ref["chosen"][i, 0], t
        assert r["stable_frames"] == ref["stable"][i, 0], t
        assert r["memory_frames"] == [int(f) for f in ref["memory_frames"][i, 0] if f >= 0], t
        assert r["kf_score_valid"] == bool(ref["kf_valid"][i, 0]), t
    # The scenario: no chosen IoU passes the gate, so the memory is the previous frame alone.
    assert all(r["aff"][r["chosen"]] < GATE for r in rec)
    assert all(r["memory_frames"] == [t] for t, r in zip(frames, rec))
    # Motion scoring is on after 15 stable frames, and only then.
    valid = [r["kf_score_valid"] for r in rec]
    assert valid == [t > cfg.stable_frames_threshold for t in frames]

    # Same memory on frames 1 and 2 (the prompt, then frame 1): the same masks; different
    # memories from frame 3 on: different masks.
    for t in (1, 2):
        np.testing.assert_array_equal(van["masks"][t], sam["masks"][t])
    assert all((van["masks"][t] != sam["masks"][t]).any() for t in frames[2:])

    # The eval's rows are the recorded masks scored against the truth, and they differ.
    rows = _rows(out / "per_case.csv")
    for name, run in (("vanilla", van), ("samurai", sam)):
        assert int(rows[name]["frames"]) == len(frames)
        d = np.mean([dice(run["masks"][t], truth[t]) for t in frames])
        j = np.mean([iou(run["masks"][t], truth[t]) for t in frames])
        assert float(rows[name]["dice"]) == pytest.approx(d, abs=1e-6)
        assert float(rows[name]["iou"]) == pytest.approx(j, abs=1e-6)
    assert (
        rows["vanilla"]["dice"] != rows["samurai"]["dice"] or rows["vanilla"]["iou"] != rows["samurai"]["iou"]
    )
