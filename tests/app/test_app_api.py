"""The app's HTTP API end to end on a random-init SAM 2 tiny (128 px) and a 6-frame clip:
open, box two structures, propagate, scrub, correct one frame, re-propagate, undo, export;
sessions across a server restart; the queue. Oracles: PIL's PNG decoder for masks and areas,
the project's generic dataset loader for the training export, the inode of each mask file (a
frame before the correction is never rewritten), and an uninterrupted session for the replay."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from app_helpers import FRAMES
from fixtures_sam2 import SYNTHETIC_BOXES
from PIL import Image

pytestmark = pytest.mark.slow
CORRECT_AT = 3
CLICK = {"frame": CORRECT_AT, "obj": 1, "x": 40.0, "y": 43.0, "positive": True}


def wait(client, sid, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/sessions/{sid}").json()["job"]
        if job is None or job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def boxed(client) -> str:
    """A session of the clip with 'lv' and 'la' boxed on frame 0 and propagated."""
    sid = client.post("/api/open", json={"root": 0, "path": "clip"}).json()["id"]
    for name, box in zip(("lv", "la"), SYNTHETIC_BOXES.values()):
        r = client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": name, "box": box})
        assert r.status_code == 200, r.text
    assert client.post(f"/api/sessions/{sid}/propagate", json={}).status_code == 200
    assert wait(client, sid)["state"] == "done"
    return sid


def masks_on_disk(store, sid):
    folder = store.folder / sid / "masks"
    return {t: np.asarray(Image.open(folder / f"{t:05d}.png")) for t in range(FRAMES)}


def test_review_round_trip(make_app, predictor, tmp_path):
    client = make_app()
    sid = boxed(client)
    summary = client.get(f"/api/sessions/{sid}").json()
    assert summary["frames"] == FRAMES and (summary["width"], summary["height"]) == (128, 96)
    assert {o["name"] for o in summary["objects"].values()} == {"lv", "la"}
    assert summary["tracked"] == list(range(FRAMES))
    masks = masks_on_disk(client.store, sid)
    for t in range(FRAMES):
        # scrubbing: the labels endpoint is the PNG on disk, the areas its pixel counts
        r = client.get(f"/api/sessions/{sid}/labels/{t}")
        raw = np.frombuffer(r.content, np.uint8)  # the client undoes the gzip encoding
        assert np.array_equal(raw.reshape(96, 128), masks[t])
        for oid in ("1", "2"):
            assert summary["areas"][oid][t] == int((masks[t] == int(oid)).sum())
        frame = client.get(f"/api/sessions/{sid}/frame/{t}")
        assert frame.headers["content-type"] == "image/jpeg"
    decisions = client.get(f"/api/sessions/{sid}/meta/{FRAMES - 1}").json()["decisions"]
    d = decisions["1"]
    assert 0 <= d["chosen"] < len(d["ious"]) and d["predicted_iou"] == d["ious"][d["chosen"]]
    assert d["memory_frames"] and max(d["memory_frames"]) == FRAMES - 1
    assert client.get(f"/api/sessions/{sid}/meta/0").json()["decisions"]["1"] == {"prompt": True}

    # correct frame 3: only frames 3.. are recomputed and rewritten
    inodes = {t: (client.store.folder / sid / "masks" / f"{t:05d}.png").stat().st_ino for t in range(FRAMES)}
    seen = []
    original = predictor._propagate_frame
    predictor._propagate_frame = lambda state, t, reverse: (seen.append(t), original(state, t, reverse))[1]
    try:
        assert client.post(f"/api/sessions/{sid}/click", json=CLICK).status_code == 200
        assert client.post(f"/api/sessions/{sid}/propagate", json={}).json()["state"] in ("queued", "running")
        assert wait(client, sid)["state"] == "done"
    finally:
        del predictor._propagate_frame
    assert seen == list(range(CORRECT_AT, FRAMES))
    corrected = masks_on_disk(client.store, sid)
    for t in range(CORRECT_AT):
        assert (client.store.folder / sid / "masks" / f"{t:05d}.png").stat().st_ino == inodes[t]
        assert np.array_equal(corrected[t], masks[t])
    assert not np.array_equal(corrected[CORRECT_AT], masks[CORRECT_AT])
    assert client.get(f"/api/sessions/{sid}/meta/{CORRECT_AT}").json()["decisions"]["1"] == {"prompt": True}

    # undo puts every frame back as it was before the click
    assert client.post(f"/api/sessions/{sid}/undo").status_code == 200
    undone = masks_on_disk(client.store, sid)
    assert all(np.array_equal(undone[t], masks[t]) for t in range(FRAMES))
    assert client.post(f"/api/sessions/{sid}/undo").status_code == 200  # the boxes' round
    assert client.post(f"/api/sessions/{sid}/undo").json()["error"] == "nothing to undo"

    # export after redoing the correction
    for name, box in zip(("lv", "la"), SYNTHETIC_BOXES.values()):
        r = client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": name, "box": box})
        assert r.status_code == 200, r.text
    client.post(f"/api/sessions/{sid}/propagate", json={})
    wait(client, sid)
    final = masks_on_disk(client.store, sid)
    assert all(
        np.array_equal(final[t], masks[t]) for t in range(FRAMES)
    )  # deterministic replay of the same ops
    png = client.post(f"/api/sessions/{sid}/export", json={"kind": "png"}).json()["path"]
    from pathlib import Path

    for t in range(FRAMES):
        assert np.array_equal(np.asarray(Image.open(Path(png) / "masks" / f"{t:05d}.png")), final[t])
    training = Path(client.post(f"/api/sessions/{sid}/export", json={"kind": "training"}).json()["path"])
    from samurai.data.generic import load_generic

    dataset = load_generic(training.parent)
    assert len(dataset) == 1
    case = dataset[0]
    assert case.case_id == training.name
    assert np.array_equal(np.asarray(case.masks)[FRAMES - 1], final[FRAMES - 1])
    assert {int(k): v.lower() for k, v in case.labels.items()} == {1: "lv", 2: "la"}


def test_correction_after_restart_equals_uninterrupted(make_app, tmp_path):
    """A correction after a server restart (model state replayed from the log) gives the same
    masks as the same correction in a server that kept running."""
    live = make_app(sessions=tmp_path / "a")
    sid = boxed(live)
    live.__exit__(None, None, None)
    restarted = make_app(sessions=tmp_path / "a")
    before = masks_on_disk(restarted.store, sid)
    assert restarted.get(f"/api/sessions/{sid}").json()["tracked"] == list(range(FRAMES))
    restarted.post(f"/api/sessions/{sid}/click", json=CLICK)
    restarted.post(f"/api/sessions/{sid}/propagate", json={})
    assert wait(restarted, sid)["state"] == "done"
    after_restart = masks_on_disk(restarted.store, sid)

    other = make_app(sessions=tmp_path / "b")
    sid2 = boxed(other)
    assert all(np.array_equal(masks_on_disk(other.store, sid2)[t], before[t]) for t in range(FRAMES))
    other.post(f"/api/sessions/{sid2}/click", json=CLICK)
    other.post(f"/api/sessions/{sid2}/propagate", json={})
    wait(other, sid2)
    uninterrupted = masks_on_disk(other.store, sid2)
    for t in range(FRAMES):
        assert np.array_equal(after_restart[t], uninterrupted[t]), t


def test_second_propagation_refused_and_others_queued(make_app, predictor):
    gate = threading.Event()
    original = predictor._propagate_frame

    def slow(state, t, reverse):
        gate.wait(60)
        return original(state, t, reverse)

    client = make_app()
    sids = []
    for _ in range(2):
        sid = client.post("/api/open", json={"root": 0, "path": "clip", "new": True}).json()["id"]
        client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": "lv", "box": SYNTHETIC_BOXES[1]})
        sids.append(sid)
    predictor._propagate_frame = slow
    try:
        first = client.post(f"/api/sessions/{sids[0]}/propagate", json={}).json()
        again = client.post(f"/api/sessions/{sids[0]}/propagate", json={})
        assert again.status_code == 409 and "already" in again.json()["error"]
        second = client.post(f"/api/sessions/{sids[1]}/propagate", json={}).json()
        assert second["state"] == "queued" and "queued behind 1" in second["message"]
        assert client.get(f"/api/sessions/{sids[1]}").json()["status"]["state"] == "queued"
        gate.set()
        assert wait(client, sids[0])["id"] == first["id"]
        assert wait(client, sids[1])["state"] == "done"
    finally:
        gate.set()
        del predictor._propagate_frame


def test_bad_input_gets_a_message(make_app, video_root):
    client = make_app()
    (video_root / "broken.mp4").write_bytes(b"not a video at all")
    r = client.post("/api/open", json={"root": 0, "path": "broken.mp4"})
    assert r.status_code == 400 and "broken.mp4" in r.json()["error"]
    sid = client.post("/api/open", json={"root": 0, "path": "clip"}).json()["id"]
    r = client.post(f"/api/sessions/{sid}/propagate", json={})
    assert r.status_code == 400 and "box" in r.json()["error"]
    r = client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": "lv", "box": [0, 0, 500, 20]})
    assert r.status_code == 400 and "outside" in r.json()["error"]
    r = client.post(f"/api/sessions/{sid}/click", json={**CLICK, "obj": 9})
    assert r.status_code == 400 and "no structure 9" in r.json()["error"]
    assert client.get(f"/api/sessions/{sid}/frame/99").status_code == 400
    r = client.post(f"/api/sessions/{sid}/find", json={"names": ["lv"]})
    assert r.status_code == 400 and "class prompts" in r.json()["error"]
    r = client.post(f"/api/sessions/{sid}/box", json={"frame": "zero", "box": [1, 2]})
    assert r.status_code == 422 and "Traceback" not in r.text
    assert client.get("/api/sessions/nosuch").status_code == 400


def test_find_chambers_with_learned_prompts(make_app, predictor):
    """An adapter's class prompts find the structures on frame 0 (one object per class found,
    its frame a prompt frame) and the propagation tracks them; names it lacks get a message."""
    import torch

    from samurai_sam2 import ClassPrompts

    names = ["lv", "la"]
    prompts = ClassPrompts.for_model(predictor, names, generator=torch.Generator().manual_seed(0))
    predictor.set_class_prompts(prompts)
    try:
        client = make_app()
        sid = client.post("/api/open", json={"root": 0, "path": "clip"}).json()["id"]
        r = client.post(f"/api/sessions/{sid}/find", json={"names": ["lv", "ra"]})
        assert r.status_code == 400 and "does not know ['ra']" in r.json()["error"]
        r = client.post(f"/api/sessions/{sid}/find", json={"names": names})
        assert r.status_code == 200, r.text
        found = r.json()["found"]
        summary = client.get(f"/api/sessions/{sid}").json()
        assert [o["name"] for o in summary["objects"].values()] == found and found
        decisions = client.get(f"/api/sessions/{sid}/meta/0").json()["decisions"]
        assert len(decisions) == len(found) and all(d == {"prompt": True} for d in decisions.values())
        client.post(f"/api/sessions/{sid}/propagate", json={})
        assert wait(client, sid)["state"] == "done"
        assert client.get(f"/api/sessions/{sid}").json()["tracked"] == list(range(FRAMES))
    finally:
        predictor.set_class_prompts(None)


def test_open_a_track_run_and_an_upload(make_app, video_root, tmp_path):
    """A ``samurai track`` run folder opens with its masks (as the run wrote them) and its
    boxes in the log, so a correction replays the run's propagation first; an uploaded video
    opens like a file of the folders."""
    from samurai.cli import main

    run = video_root / "runs" / "clip_track"
    if not run.exists():
        argv = [
            "track",
            str(video_root / "clip"),
            "--random-weights",
            "--image-size",
            "128",
            "--device",
            "cpu",
            "--no-video",
            "--out",
            str(run),
        ]
        for box in SYNTHETIC_BOXES.values():
            argv += ["--box", ",".join(f"{v:g}" for v in box)]
        assert main(argv) == 0
    client = make_app()
    listed = {
        e["path"]: e["kind"] for e in client.get("/api/list", params={"root": 0, "path": "runs"}).json()
    }
    assert listed == {"runs/clip_track": "run"}
    r = client.post("/api/open", json={"root": 0, "path": "runs/clip_track"})
    assert r.status_code == 200, r.text
    sid = r.json()["id"]
    opened = masks_on_disk(client.store, sid)
    for t in range(FRAMES):
        assert np.array_equal(opened[t], np.asarray(Image.open(run / "masks" / f"{t:05d}.png")))
    assert client.post(f"/api/sessions/{sid}/click", json=CLICK).status_code == 200
    client.post(f"/api/sessions/{sid}/propagate", json={})
    assert wait(client, sid)["state"] == "done"
    after = masks_on_disk(client.store, sid)
    assert all(np.array_equal(after[t], opened[t]) for t in range(CORRECT_AT))

    import cv2

    frames = [
        np.asarray(Image.open(video_root / "clip" / f"{t:05d}.png").convert("RGB")) for t in range(FRAMES)
    ]
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for f in frames:
        writer.write(f[..., ::-1])
    writer.release()
    r = client.post("/api/upload", params={"name": "my clip.avi"}, content=video.read_bytes())
    assert r.status_code == 200, r.text
    assert r.json()["frames"] == FRAMES and r.json()["source"]["upload"].endswith("-my_clip.avi")


def test_stop_during_propagation_keeps_finished_frames(make_app, predictor, tmp_path):
    """Stopping the server (Ctrl-C) mid-propagation ends the job between two frames: the frames
    done are on disk, the session says interrupted, and after a restart propagating again
    finishes the video."""
    client = make_app(sessions=tmp_path / "s")
    sid = client.post("/api/open", json={"root": 0, "path": "clip"}).json()["id"]
    client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": "lv", "box": SYNTHETIC_BOXES[1]})
    original = predictor._propagate_frame
    reached = threading.Event()

    def stop_at_3(state, t, reverse):
        if t == 3:
            reached.set()
            time.sleep(0.5)  # the stop request arrives while frame 3 is being tracked
        return original(state, t, reverse)

    predictor._propagate_frame = stop_at_3
    try:
        client.post(f"/api/sessions/{sid}/propagate", json={})
        assert reached.wait(120)
        client.worker.stop()
    finally:
        del predictor._propagate_frame
    job = client.worker.latest(client.store.get(sid))
    assert job.state == "interrupted" and job.done == 4  # frames 0..3
    status = client.store.get(sid).state["status"]
    assert status["state"] == "interrupted"
    assert sorted(int(p.stem) for p in (client.store.folder / sid / "masks").glob("*.png")) == [0, 1, 2, 3]
    client.__exit__(None, None, None)

    restarted = make_app(sessions=tmp_path / "s")
    assert restarted.get(f"/api/sessions/{sid}").json()["tracked"] == [0, 1, 2, 3]
    restarted.post(f"/api/sessions/{sid}/propagate", json={"start": 0})
    assert wait(restarted, sid)["state"] == "done"
    assert restarted.get(f"/api/sessions/{sid}").json()["tracked"] == list(range(FRAMES))


def test_restart_marks_a_running_job_interrupted(tmp_path):
    """A server killed mid-job (no clean stop) leaves 'running' in session.json and maybe a
    half-written session folder: the next start says interrupted and sweeps the half folder."""
    from samurai.app.sessions import SessionStore

    store = SessionStore(tmp_path)
    frames = [np.zeros((8, 8, 3), np.uint8)] * 2
    s = store.create("v", {"root": 0, "path": "v"}, frames)
    s.set_status(state="running", job=1, message="propagating")
    (tmp_path / ".abc.partial").mkdir()
    again = SessionStore(tmp_path)
    again.recover()
    assert again.get(s.id).state["status"]["state"] == "interrupted"
    assert not (tmp_path / ".abc.partial").exists()
