"""``samurai_common.tracks.VideoTracks`` on its own, against ``tests/samurai_reference.py``.

A backend's bookkeeping driven as a backend drives it (``memory_frames`` for each object about
to be decided, then one ``decide`` per frame) through a script with everything it handles:
object ids of any hashable type, objects arriving one by one (the core's capacity grows
1 -> 2 -> 4), frames where only some objects are decided and not in slot order, a skipped frame
and a reversed pass (each restarts that object's motion track and memory), an object removed and
its slot given to a newcomer. Every object is one independent track of the reference, restarted
where a new pass starts; no torch and no model are involved.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
import samurai_reference as ref

import samurai_core as sc
from samurai_common.tracks import VideoTracks

CFG = sc.preset("tiny", stable_frames_threshold=3, memory_window=8, num_maskmem=4)
M = 3

# (frame, reverse, objects decided on that frame, in the order the backend lists them)
SCRIPT = (
    [(f, False, ["lv"]) for f in range(3)]
    + [(f, False, ["lv", 7]) for f in range(3, 5)]
    + [(f, False, ["lv", 7, ("rv", 2)]) for f in range(5, 8)]
    + [(8, False, [("rv", 2), "lv"])]  # 7 sits this frame out: its next frame starts a new pass
    + [(f, False, ["lv", 7, ("rv", 2)]) for f in range(9, 12)]
    + [("remove", "lv")]
    + [(f, False, [7, ("rv", 2), "la"]) for f in range(12, 14)]  # "la" takes the freed slot
    + [(f, True, ["la", 7, ("rv", 2)]) for f in range(13, 7, -1)]  # back over the video
)


def _candidates(rng, t: int, n: int):
    """Three candidates per object around a drifting box (one of them a stray box, sometimes
    an empty mask's all-zero box), predicted IoUs and object scores."""
    boxes = np.zeros((n, M, 4), np.float32)
    for k in range(n):
        x, y = 20.0 + 3.0 * t + 40.0 * k, 30.0 + 2.0 * t
        base = np.array([x, y, x + 30.0, y + 24.0])
        boxes[k, 0] = base + rng.normal(0.0, 1.5, 4)
        boxes[k, 1] = base + rng.normal(0.0, 6.0, 4)
        if rng.random() > 0.2:
            boxes[k, 2] = [
                rng.uniform(0, 100),
                rng.uniform(0, 100),
                rng.uniform(110, 200),
                rng.uniform(110, 200),
            ]
    aff = rng.uniform(0.1, 1.0, (n, M)).astype(np.float32)
    obj = rng.normal(1.0, 1.5, n).astype(np.float32)
    return boxes, aff, obj


def test_video_tracks_follow_the_reference_rules():
    rng = np.random.default_rng(0)
    tracks = VideoTracks(CFG, jax.devices("cpu")[0])
    steps = [s for s in SCRIPT if s[0] != "remove"]
    objects = list(dict.fromkeys(o for s in steps for o in s[2]))
    T, B = len(steps), len(objects)
    col = {o: b for b, o in enumerate(objects)}
    cand_boxes = np.zeros((T, B, M, 4))
    aff = np.zeros((T, B, M))
    obj = np.zeros((T, B))
    stepped = np.zeros((T, B), bool)
    restart = np.zeros((T, B), bool)
    frame_idx = np.array([s[0] for s in steps])
    last: dict = {}  # object -> (frame, direction) of its last decided frame
    records, memory_asked, capacities = {}, {}, []
    t = 0
    for entry in SCRIPT:
        if entry[0] == "remove":
            tracks.remove(entry[1])
            continue
        frame, reverse, ids = entry
        direction = -1 if reverse else 1
        for o in ids:
            memory_asked[t, o] = tracks.memory_frames(o, frame, reverse)
            # The documented pass rule: the previous frame in the same direction continues it.
            restart[t, col[o]] = o in last and last[o] != (frame - direction, direction)
            last[o] = (frame, direction)
        boxes, a, s = _candidates(rng, t, len(ids))
        chosen, recs = tracks.decide(ids, frame, boxes, a, s)
        capacities.append(tracks.state.capacity)
        for k, o in enumerate(ids):
            b = col[o]
            cand_boxes[t, b], aff[t, b], obj[t, b], stepped[t, b] = boxes[k], a[k], s[k], True
            records[t, o] = (int(chosen[k]), recs[k].as_dict())
        t += 1

    assert capacities[0] == 1 and max(capacities) == 4  # grew by doubling as objects arrived
    assert restart.sum() >= 3  # the skipped frame and the reversed pass were exercised
    assert tracks.slot_of["la"] == 0 and "lv" not in tracks.slot_of  # the newcomer got lv's slot

    exp = ref.run_reference(CFG, cand_boxes, aff, obj, stepped, frame_idx, restart=restart)
    previous: dict = {}  # object -> memory frames its last decision chose
    for (t, o), (chosen, rec) in records.items():
        b = col[o]
        want_memory = [f for f in exp["memory_frames"][t, b].tolist() if f >= 0]
        assert chosen == exp["chosen"][t, b], (t, o)
        assert rec["stable_frames"] == exp["stable"][t, b], (t, o)
        assert rec["memory_frames"] == want_memory, (t, o)
        assert rec["kf_score_valid"] == exp["kf_valid"][t, b], (t, o)
        np.testing.assert_allclose(rec["kf_box"], exp["box"][t, b], rtol=2e-4, atol=2e-2, err_msg=str((t, o)))
        np.testing.assert_array_equal(rec["boxes"], cand_boxes[t, b].astype(np.float32))
        # What the backend attends to on this frame: the last choice of the pass, or after a
        # new pass the previous frame alone.
        frame, reverse = frame_idx[t], steps[t][1]
        fresh = restart[t, b] or o not in previous
        expected_asked = [frame + (1 if reverse else -1)] if fresh else previous[o]
        assert memory_asked[t, o] == expected_asked, (t, o)
        previous[o] = want_memory


def test_an_object_decided_alone_among_several_leaves_the_others_untouched():
    """A frame that decides one object of two steps only its slot: the other keeps its state."""
    rng = np.random.default_rng(1)
    tracks = VideoTracks(CFG, jax.devices("cpu")[0])
    for f in range(4):
        for o in ("a", "b"):
            tracks.memory_frames(o, f, False)
        tracks.decide(["a", "b"], f, *_candidates(rng, f, 2))
    before = jax.device_get(tracks.state)
    tracks.memory_frames("b", 4, False)
    tracks.decide(["b"], 4, *_candidates(rng, 4, 1))
    after = jax.device_get(tracks.state)
    a = tracks.slot_of["a"]
    np.testing.assert_array_equal(after.f[:, a], before.f[:, a])
    np.testing.assert_array_equal(after.i[:, a], before.i[:, a])
    assert not np.array_equal(after.i[:, tracks.slot_of["b"]], before.i[:, tracks.slot_of["b"]])


@pytest.mark.parametrize("capacity_objects", [1, 3])
def test_decide_returns_int64_choices_in_the_given_order(capacity_objects):
    tracks = VideoTracks(CFG, jax.devices("cpu")[0])
    ids = list(range(capacity_objects))
    boxes, aff, obj = _candidates(np.random.default_rng(2), 0, capacity_objects)
    aff[:, :] = 0.2
    aff[np.arange(capacity_objects), np.arange(capacity_objects) % M] = 0.9  # object k picks k % 3
    chosen, recs = tracks.decide(ids[::-1], 0, boxes[::-1].copy(), aff[::-1].copy(), obj[::-1].copy())
    assert chosen.dtype == np.int64
    assert chosen.tolist() == [k % M for k in ids[::-1]]
    assert [r.as_dict()["obj"] for r in recs] == pytest.approx(obj[::-1].tolist())


def test_every_slot_decided_out_of_slot_order_keeps_each_object_on_its_own_row():
    """All objects of a frame listed in another order than their slots (the backend lists them
    as its dict gives them): each object's candidates must reach its own slot. Before the track
    is stable the choice is plain argmax, so each object's pick is known by construction."""
    tracks = VideoTracks(CFG, jax.devices("cpu")[0])
    rng = np.random.default_rng(3)
    for f, order in enumerate((["a", "b"], ["b", "a"], ["b", "a"])):
        boxes, aff, obj = _candidates(rng, f, 2)
        pick = {"a": 0, "b": 2}
        aff[:, :] = 0.2
        for row, o in enumerate(order):
            aff[row, pick[o]] = 0.9
            obj[row] = {"a": 1.5, "b": -0.5}[o]
        chosen, records = tracks.decide(order, f, boxes, aff, obj)
        assert chosen.tolist() == [pick[o] for o in order], (f, order)
        assert [r.as_dict()["obj"] for r in records] == pytest.approx(
            [{"a": 1.5, "b": -0.5}[o] for o in order]
        )
    assert tracks.slot_of == {"a": 0, "b": 1} and tracks.state.capacity == 2
