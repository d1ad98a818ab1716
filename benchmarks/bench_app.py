"""``samurai app``: scrubbing never waits for the model, and what a correction costs.

Against a real uvicorn server on localhost (one process, a thread), over HTTP with one
keep-alive connection, as the page fetches:

- ``test_serve_frame[256|512]``: one scrub step = the frame's JPEG + its label mask + its
  decisions (three requests) of a session whose frames are all tracked; p50/p95 in
  ``extra_info`` (target p95 ≤ 20 ms). Serving never calls the model, so the session's masks
  are written directly (two ellipses per frame) and no model is built.
- ``test_correction[256|512]``: a click on frame ``T/2`` until that frame's new mask is back
  (the round trip), then the re-propagation from it, per frame.

Random-init SAM 2.1 hiera-tiny on the CPU, two objects, ``SAMURAI_BENCH_APP_FRAMES`` frames
(default 24) of the given size.

    python -m pytest benchmarks/bench_app.py -p no:cacheprovider --benchmark-only -o python_files='bench_*.py'
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
torch = pytest.importorskip("torch")

FRAMES = int(os.environ.get("SAMURAI_BENCH_APP_FRAMES", "24"))
THREADS = int(os.environ.get("SAMURAI_BENCH_THREADS", "2"))


def write_clip(folder, size: int, frames: int):
    """Two bright ellipses moving over speckle, ``size`` x ``size`` PNG frames."""
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    s = size / 128
    for t in range(frames):
        img = rng.integers(0, 40, (size, size)).astype(np.uint8)
        for cx, cy, rx, ry, level in ((30 + 2 * t, 40 + t % 5, 16, 12, 220), (95 - t, 70, 10, 14, 160)):
            img[((xx - cx * s) / (rx * s)) ** 2 + ((yy - cy * s) / (ry * s)) ** 2 <= 1] = level
        Image.fromarray(np.repeat(img[..., None], 3, 2)).save(folder / f"{t:05d}.png")
    return [[14 * s, 28 * s, 46 * s, 52 * s], [max(0, 85 - frames) * s, 56 * s, 105 * s, 84 * s]]


class Served:
    """The app on 127.0.0.1:<free port> in a thread, and a keep-alive HTTP connection to it."""

    def __init__(self, root, sessions, size, model=True):
        import uvicorn

        from samurai.app.roots import Roots
        from samurai.app.server import create_app
        from samurai.app.sessions import SessionStore
        from samurai.app.worker import ModelWorker
        from samurai.predictors import build_predictor

        def build():
            assert model, "this benchmark never calls the model"
            torch.set_num_threads(THREADS)
            return build_predictor("tiny", None, "cpu", size, samurai=True, adapter=None, random_weights=True)

        app = create_app(Roots([root]), SessionStore(sessions), ModelWorker(build))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method, url, body=None):
        self.conn.request(
            method,
            url,
            body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
        )
        r = self.conn.getresponse()
        data = r.read()
        assert r.status in (200, 204), (url, r.status, data[:200])
        return data

    def json(self, method, url, body=None):
        return json.loads(self.call(method, url, body))

    def wait(self, sid):
        while True:
            job = self.json("GET", f"/api/sessions/{sid}")["job"]
            if job["state"] not in ("queued", "running"):
                assert job["state"] == "done", job
                return
            time.sleep(0.02)

    def close(self):
        self.conn.close()
        self.server.should_exit = True
        self.thread.join(60)


@pytest.fixture(scope="module", params=[256, pytest.param(512, marks=pytest.mark.slow)])
def session(request, tmp_path_factory):
    size = request.param
    base = tmp_path_factory.mktemp(f"app{size}")
    boxes = write_clip(base / "data" / "clip", size, FRAMES)
    served = Served(base / "data", base / "sessions", size)
    sid = served.json("POST", "/api/open", {"root": 0, "path": "clip"})["id"]
    for name, box in zip(("lv", "la"), boxes):
        served.json("POST", f"/api/sessions/{sid}/box", {"frame": 0, "name": name, "box": box})
    t0 = time.perf_counter()
    served.json("POST", f"/api/sessions/{sid}/propagate", {})
    served.wait(sid)
    served.first_pass_s = time.perf_counter() - t0
    yield served, sid, size
    served.close()


@pytest.fixture(scope="module", params=[256, 512])
def cached(request, tmp_path_factory):
    """A session of ``FRAMES`` frames with two objects' masks and decisions on every frame."""
    from PIL import Image

    from samurai.app.sessions import SessionStore

    size = request.param
    base = tmp_path_factory.mktemp(f"cached{size}")
    write_clip(base / "data" / "clip", size, FRAMES)
    store = SessionStore(base / "sessions")
    frames = (
        np.asarray(Image.open(base / "data" / "clip" / f"{t:05d}.png").convert("RGB")) for t in range(FRAMES)
    )
    session = store.create("clip", {"root": 0, "path": "clip"}, frames)
    yy, xx = np.mgrid[0:size, 0:size]
    decision = {
        "chosen": 1,
        "ious": [0.5, 0.9, 0.7],
        "predicted_iou": 0.9,
        "object_score": 3.0,
        "motion_iou": 0.8,
        "stable_frames": 20,
        "memory_frames": [9, 8, 7, 6, 5, 4],
    }
    for t in range(FRAMES):
        masks = {
            1: ((xx - size * 0.3) / (size * 0.15)) ** 2 + ((yy - size * 0.4) / (size * 0.1)) ** 2 <= 1,
            2: ((xx - size * 0.7) / (size * 0.1)) ** 2 + ((yy - size * 0.6) / (size * 0.12)) ** 2 <= 1,
        }
        session.write_frame(t, masks, {"1": decision, "2": decision})
    served = Served(base / "data", base / "sessions", size, model=False)
    yield served, session.id, size
    served.close()


def test_serve_frame(benchmark, cached):
    served, sid, size = cached
    rng = np.random.default_rng(0)

    def scrub_step(t):
        served.call("GET", f"/api/sessions/{sid}/frame/{t}")
        served.call("GET", f"/api/sessions/{sid}/labels/{t}")
        served.call("GET", f"/api/sessions/{sid}/meta/{t}")

    n = 5 if benchmark.disabled else 300
    times = []
    for t in rng.integers(0, FRAMES, n):
        t0 = time.perf_counter()
        scrub_step(int(t))
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1e3
    benchmark.extra_info.update(
        size=size,
        frames=FRAMES,
        requests=n,
        p50_ms=float(np.percentile(ms, 50)),
        p95_ms=float(np.percentile(ms, 95)),
        max_ms=float(ms.max()),
    )
    benchmark.pedantic(scrub_step, args=(FRAMES // 2,), rounds=1 if benchmark.disabled else 50, iterations=1)


def test_correction(benchmark, session):
    served, sid, size = session
    k = FRAMES // 2
    rounds = []

    def click(x):
        t0 = time.perf_counter()
        served.json(
            "POST",
            f"/api/sessions/{sid}/click",
            {"frame": k, "obj": 1, "x": x, "y": 40.0 * size / 128, "positive": True},
        )
        served.call("GET", f"/api/sessions/{sid}/labels/{k}")
        rounds.append(time.perf_counter() - t0)

    benchmark.pedantic(click, args=(30.0 * size / 128 + 2 * k,), rounds=1, iterations=1)
    for i in range(0 if benchmark.disabled else 4):
        click(30.0 * size / 128 + 2 * k + i)
    t0 = time.perf_counter()
    served.json("POST", f"/api/sessions/{sid}/propagate", {})
    served.wait(sid)
    repropagate = time.perf_counter() - t0
    benchmark.extra_info.update(
        size=size,
        frames=FRAMES,
        objects=2,
        click_round_trip_ms=[round(r * 1e3, 1) for r in rounds],
        click_round_trip_median_ms=float(np.median(rounds) * 1e3),
        repropagate_frames=FRAMES - k,
        repropagate_s_per_frame=repropagate / (FRAMES - k),
        first_pass_s_per_frame=served.first_pass_s / FRAMES,
    )
