"""`samurai app` on the transformers backend (``--model hf:DIR``): a tiny random-init
transformers SAM 2 (256 px) through the app's HTTP API on the 6-frame clip: box two structures,
propagate, click-correct frame 3, re-propagate from it, undo, export; SAMURAI's decisions in the
side panel; "find" without learned class prompts.

Oracles: transformers' own model class run on the session's frames with the same boxes and
click (``hf_reference.LibraryReview``: the library's streaming API and SAM 2's correction
rule), its masks composed into label masks by the project's rule (later ids drawn over earlier
ones) and compared with the PNGs PIL decodes; the inode of each mask file and spies on the
model (frames before the correction are neither rewritten nor looked at again)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import FRAMES
from fixtures_sam2 import SYNTHETIC_BOXES
from hf_reference import LibraryReview, spy_frames
from PIL import Image
from test_app_api import boxed, masks_on_disk, wait

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

CORRECT_AT = 3
# A positive click on object 1 ('lv') right of its first-frame box (x 14..46, y 28..52).
CLICK = {"frame": CORRECT_AT, "obj": 1, "x": 52.0, "y": 40.0, "positive": True}


def _hf_predictor(folder, samurai: bool):
    from samurai.predictors import build_predictor

    return build_predictor(
        f"hf:{folder}", None, "cpu", None, samurai=samurai, adapter=None, random_weights=False
    )


@pytest.fixture(scope="module")
def vanilla(hf_tiny_folders):
    return _hf_predictor(hf_tiny_folders["sam2_video"], samurai=False)


def _labels(logits) -> np.ndarray:
    labels = np.zeros(logits.shape[-2:], np.uint8)
    for i, oid in enumerate((1, 2)):
        labels[(logits[i, 0] > 0).numpy()] = oid
    return labels


def test_review_round_trip_matches_the_library(make_app, vanilla, hf_tiny_folders, monkeypatch):
    from samurai_common.frames import open_frames
    from samurai_hf import FAMILIES, load_processor

    client = make_app(build=lambda: vanilla)
    sid = boxed(client)  # 'lv' (1) and 'la' (2) boxed on frame 0, propagated
    session_folder = client.store.folder / sid
    source = open_frames(session_folder / "frames")
    folder = hf_tiny_folders["sam2_video"]
    library = FAMILIES["sam2_video"][0].from_pretrained(str(folder)).eval()
    reference = LibraryReview(library, load_processor(folder), [source[t] for t in range(FRAMES)])
    reference.boxes(0, {1: SYNTHETIC_BOXES[1], 2: SYNTHETIC_BOXES[2]})
    want = {t: _labels(m) for t, m in reference.track(0, FRAMES).items()}
    masks = masks_on_disk(client.store, sid)
    assert all(np.array_equal(masks[t], want[t]) for t in range(FRAMES))
    assert all((masks[t] == 1).any() for t in range(FRAMES))  # not an empty comparison
    meta = client.get(f"/api/sessions/{sid}/meta/{FRAMES - 1}").json()["decisions"]
    assert set(meta["1"]) == {"object_score"}  # the library's tracker keeps no candidate scores
    assert client.get(f"/api/sessions/{sid}/meta/0").json()["decisions"]["1"] == {"prompt": True}

    # correct frame 3: only frames 3.. are tracked again and rewritten
    inodes = {t: (session_folder / "masks" / f"{t:05d}.png").stat().st_ino for t in range(FRAMES)}
    forwards, features = spy_frames(monkeypatch, vanilla.model)
    r = client.post(f"/api/sessions/{sid}/click", json=CLICK)
    assert r.status_code == 200, r.text
    assert client.post(f"/api/sessions/{sid}/propagate", json={}).status_code == 200
    assert wait(client, sid)["state"] == "done"
    monkeypatch.undo()
    assert forwards == list(range(CORRECT_AT, FRAMES))
    assert min(features) == CORRECT_AT  # no earlier frame is looked at again
    clicked = reference.click(CORRECT_AT, 1, (CLICK["x"], CLICK["y"]), 1)
    again = {t: _labels(m) for t, m in reference.track(CORRECT_AT, FRAMES).items()}
    assert np.array_equal(again[CORRECT_AT] == 1, (clicked[0, 0] > 0).numpy() & (again[CORRECT_AT] != 2))
    corrected = masks_on_disk(client.store, sid)
    for t in range(CORRECT_AT):
        assert (session_folder / "masks" / f"{t:05d}.png").stat().st_ino == inodes[t]
        assert np.array_equal(corrected[t], masks[t])
    for t in range(CORRECT_AT, FRAMES):
        assert (session_folder / "masks" / f"{t:05d}.png").stat().st_ino != inodes[t]
        assert np.array_equal(corrected[t], again[t]), t
    assert not np.array_equal(corrected[CORRECT_AT], masks[CORRECT_AT])
    decisions = client.get(f"/api/sessions/{sid}/meta/{CORRECT_AT}").json()["decisions"]
    assert decisions["1"] == {"prompt": True} and set(decisions["2"]) == {"object_score"}

    # export the corrected masks, then undo back to the first propagation
    png = Path(client.post(f"/api/sessions/{sid}/export", json={"kind": "png"}).json()["path"])
    for t in range(FRAMES):
        assert np.array_equal(np.asarray(Image.open(png / "masks" / f"{t:05d}.png")), corrected[t])
    training = Path(client.post(f"/api/sessions/{sid}/export", json={"kind": "training"}).json()["path"])
    from samurai.data.generic import load_generic

    (case,) = load_generic(training.parent)
    assert np.array_equal(np.asarray(case.masks)[CORRECT_AT], corrected[CORRECT_AT])
    assert client.post(f"/api/sessions/{sid}/undo").status_code == 200
    undone = masks_on_disk(client.store, sid)
    assert all(np.array_equal(undone[t], masks[t]) for t in range(FRAMES))


def test_samurai_decisions_and_find_on_a_transformers_tracker(make_app, hf_tiny_folders):
    """SAMURAI on: the side panel's decisions (chosen candidate, predicted IoUs, memory frames);
    a corrected frame is a prompt frame and the motion track restarts after it; "find" says that
    a transformers model has no learned class prompts (boxes keep working), and so does a
    correction of a structure such prompts found."""
    predictor = _hf_predictor(hf_tiny_folders["sam2_video"], samurai=True)
    client = make_app(build=lambda: predictor)
    sid = boxed(client)
    before = client.get(f"/api/sessions/{sid}/meta/{CORRECT_AT + 1}").json()["decisions"]["1"]
    assert 0 <= before["chosen"] < len(before["ious"]) == 3
    assert before["predicted_iou"] == before["ious"][before["chosen"]]
    assert before["memory_frames"] and max(before["memory_frames"]) == CORRECT_AT + 1
    assert before["stable_frames"] == CORRECT_AT + 1  # stepped on frames 1..4
    client.post(f"/api/sessions/{sid}/click", json=CLICK)
    client.post(f"/api/sessions/{sid}/propagate", json={})
    assert wait(client, sid)["state"] == "done"
    assert client.get(f"/api/sessions/{sid}/meta/{CORRECT_AT}").json()["decisions"]["1"] == {"prompt": True}
    after = client.get(f"/api/sessions/{sid}/meta/{CORRECT_AT + 1}").json()["decisions"]["1"]
    assert after["stable_frames"] == 1 and after["memory_frames"] == [CORRECT_AT + 1]

    sid = client.post("/api/open", json={"root": 0, "path": "clip", "new": True}).json()["id"]
    r = client.post(f"/api/sessions/{sid}/find", json={"names": ["lv"]})
    assert r.status_code == 400 and "no learned class prompts" in r.json()["error"]
    assert "draw a box" in r.json()["error"] and "Traceback" not in r.text
    # a session whose structure a SAM 2 model's class prompt found cannot be replayed here
    s = client.store.get(sid)
    s.append_op({"kind": "class", "frame": 0, "obj": s.add_object("lv"), "name": "lv"})
    r = client.post(f"/api/sessions/{sid}/click", json={**CLICK, "frame": 0})
    assert r.status_code == 400 and "learned class prompts" in r.json()["error"]


@pytest.mark.parametrize(
    "extra, words",
    [(["--image-size", "128"], "--image-size is for SAM 2 models"), (["--dtype", "bf16"], "float32")],
)
def test_cli_refuses_sam2_flags_before_serving(video_root, hf_tiny_folders, capsys, extra, words):
    """The folder is loaded at start: a flag it cannot take stops `samurai app` (exit 2)."""
    from samurai.cli import main

    assert main(["app", str(video_root), "--model", f"hf:{hf_tiny_folders['sam2_video']}", *extra]) == 2
    assert words in capsys.readouterr().err
