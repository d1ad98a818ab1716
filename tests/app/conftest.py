"""Fixtures of the app tests: a small phantom video (a frame folder), one random-init SAM 2
tiny predictor at 128 px shared by every test (it holds no per-video state), and an app factory
over a sessions folder."""

from __future__ import annotations

import pytest
from app_helpers import FRAMES, IMAGE_SIZE
from fixtures_sam2 import make_synthetic_frames


@pytest.fixture(scope="session")
def video_root(tmp_path_factory):
    """A folder holding ``clip/`` (6 PNG frames, 128x96) and an ``outside/`` folder beside it."""
    from PIL import Image

    base = tmp_path_factory.mktemp("app")
    root = base / "data"
    (root / "clip").mkdir(parents=True)
    for i, frame in enumerate(make_synthetic_frames(FRAMES)):
        Image.fromarray(frame).save(root / "clip" / f"{i:05d}.png")
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text("not for the app")
    return root


@pytest.fixture(scope="session")
def predictor():
    pytest.importorskip("sam2")
    from samurai.predictors import build_predictor

    return build_predictor(
        "tiny", None, "cpu", IMAGE_SIZE, samurai=True, adapter=None, random_weights=True, seed=0
    )


@pytest.fixture
def make_app(video_root, predictor, tmp_path):
    """``make_app(token=None, sessions=None, build=None, folders=None)`` -> a started TestClient
    (``folders``: the allowed folders, default the clip's)."""
    from fastapi.testclient import TestClient

    from samurai.app.roots import Roots
    from samurai.app.server import create_app
    from samurai.app.sessions import SessionStore
    from samurai.app.worker import ModelWorker

    clients = []

    from samurai.provenance import run_info

    def make(token=None, sessions=None, build=None, max_upload=1 << 20, folders=None):
        store = SessionStore(sessions or tmp_path / "sessions")
        worker = ModelWorker(
            build or (lambda: predictor), lambda p: run_info(p, command="app", model="tiny", seed=0)
        )
        app = create_app(
            Roots(folders or [video_root]),
            store,
            worker,
            token=token,
            training_root=tmp_path / "training",
            max_upload=max_upload,
        )
        client = TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1:8765")
        client.__enter__()
        client.store, client.worker = store, worker
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
