"""Only files below the folders given are read; the token is checked on every request; bodies
are size-limited; the page loads nothing from outside the app. No model is built here."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from samurai.app.roots import Roots  # noqa: E402
from samurai.app.server import STATIC, create_app  # noqa: E402
from samurai.app.sessions import SessionStore  # noqa: E402
from samurai.app.worker import ModelWorker  # noqa: E402

TOKEN = "t0ken-for-the-tests-only"


def no_model():
    raise AssertionError("these tests never reach the model")


@pytest.fixture
def client_for(video_root, tmp_path):
    clients = []

    def make(token=None, max_upload=1 << 20, base_url="http://127.0.0.1:8765"):
        app = create_app(
            Roots([video_root]),
            SessionStore(tmp_path / "sessions"),
            ModelWorker(no_model),
            token=token,
            max_upload=max_upload,
        )
        c = TestClient(app, raise_server_exceptions=False, base_url=base_url)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def escape_links(video_root):
    """Links inside the allowed folder that point outside it (a folder and a file)."""
    outside = video_root.parent / "outside"
    links = [video_root / "out_dir", video_root / "out_file.mp4"]
    for link in links:
        link.unlink(missing_ok=True)
    links[0].symlink_to(outside, target_is_directory=True)
    links[1].symlink_to(outside / "secret.txt")
    yield
    for link in links:
        link.unlink(missing_ok=True)


TRAVERSALS = [
    "..",
    "../",
    "../outside",
    "clip/../../outside",
    "/etc",
    "/etc/passwd",
    "//etc",
    "clip/..\\..\\outside",
    "out_dir",
    "out_dir/secret.txt",
    "clip/\x00",
    "out_file.mp4",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_leaves_the_folder(client_for, escape_links, path):
    c = client_for()
    r = c.get("/api/list", params={"root": 0, "path": path})
    assert r.status_code == 403, (path, r.text)
    r = c.post("/api/open", json={"root": 0, "path": path})
    assert r.status_code == 403, (path, r.text)
    assert "not for the app" not in r.text


@pytest.mark.parametrize(
    "raw",
    [
        "%2e%2e",
        "%2e%2e%2foutside",
        "..%2f..%2foutside",
        "%2E%2E/%2E%2E/outside",
        "clip%2f%2e%2e%2f%2e%2e%2foutside",
        "%252e%252e",
    ],
)
def test_url_encoded_traversal(client_for, raw):
    c = client_for()
    r = c.get(f"/api/list?root=0&path={raw}")
    # decoded once by the server: refused, or (double encoding) a literal name that does not exist
    assert r.status_code == 403, r.text


def test_links_out_are_not_listed_and_other_roots_refused(client_for, escape_links):
    c = client_for()
    names = [e["name"] for e in c.get("/api/list", params={"root": 0}).json()]
    assert "clip" in names and "out_dir" not in names and "out_file.mp4" not in names
    assert c.get("/api/list", params={"root": 1}).status_code == 403
    assert c.get("/api/list", params={"root": -1}).status_code == 403


def test_token_checked_on_every_request(client_for):
    c = client_for(token=TOKEN, base_url="http://192.0.2.7:8765")
    for url in ("/", "/static/app.js", "/api/roots", "/api/sessions"):
        assert c.get(url).status_code == 401, url
        assert c.get(url, headers={"X-Samurai-Token": TOKEN[:-1] + "x"}).status_code == 401, url
        assert c.get(url, headers={"X-Samurai-Token": TOKEN}).status_code == 200, url
        assert c.get(url, params={"token": TOKEN}).status_code == 200, url
        assert c.get(url, headers={"Cookie": f"samurai_token={TOKEN}"}).status_code == 200, url
    assert c.post("/api/open", json={"root": 0, "path": "clip"}).status_code == 401


def test_loopback_without_token_refuses_other_host_names(client_for):
    c = client_for(base_url="http://evil.example:8765")  # DNS rebinding to 127.0.0.1
    assert c.get("/api/roots").status_code == 403
    assert client_for(base_url="http://127.0.0.1:8765").get("/api/roots").status_code == 200
    assert client_for(base_url="http://[::1]:8765").get("/api/roots").status_code == 200
    assert client_for(base_url="http://127.0.0.1.evil.example").get("/api/roots").status_code == 403


def test_body_limits(client_for, tmp_path):
    c = client_for(max_upload=1 << 20)
    r = c.post("/api/upload", params={"name": "big.mp4"}, content=b"\0" * ((1 << 20) + 1))
    assert r.status_code == 413 and "limit" in r.json()["error"]
    r = c.post("/api/upload", params={"name": "run.sh"}, content=b"echo hi")
    assert r.status_code == 400 and "video files" in r.json()["error"]
    r = c.post(
        "/api/open", content=b"{" + b" " * (1 << 20) + b"}", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    r = c.post("/api/upload", params={"name": "../../evil.mp4"}, content=b"not a video")
    assert (
        r.status_code == 400 and "Traceback" not in r.text
    )  # saved under a safe name, then refused as unreadable
    assert not list(tmp_path.parent.rglob("*evil*"))  # not written outside, and not kept


def test_page_assets_are_local():
    for f in STATIC.iterdir():
        text = f.read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f  # no CDN, no fonts
        assert "@import" not in text and "eval(" not in text and "innerHTML" not in text, f


def test_ctrl_c_stops_cleanly_and_non_loopback_needs_token(video_root, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), str(Path.cwd() / "backends")])}
    cmd = [
        sys.executable,
        "-m",
        "samurai",
        "app",
        str(video_root),
        "--random-weights",
        "--port",
        "0",
        "--sessions",
        str(tmp_path / "s"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "open http" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        url = re.search(r"http://\S+", line).group(0)
        assert url.startswith("http://localhost:") and "token" not in url
        import urllib.request

        with urllib.request.urlopen(url.replace("localhost", "127.0.0.1") + "api/roots", timeout=10) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        out, err = proc.communicate()
        assert "stopped" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    proc = subprocess.Popen(
        cmd + ["--host", "0.0.0.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "open http" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        token = re.search(r"\?token=(\S+)", line).group(1)
        assert len(token) >= 24
        port = re.search(r":(\d+)/", line).group(1)
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/roots", timeout=10)
        assert err.value.code == 401
        err.value.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/roots?token={token}", timeout=10) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--host", "0.0.0.0", "--token", "short"], "at least 16"),
        (["--host", "my.example.org", "--random-weights"], "not an IP address"),
        (["--model", "hf:/nowhere"], "is not a folder"),
        ([], "needs weights"),
    ],
)
def test_cli_user_errors(video_root, capsys, extra, words):
    from samurai.cli import main

    assert main(["app", str(video_root), *extra]) == 2
    assert words in capsys.readouterr().err


def test_cli_missing_folder(tmp_path, capsys):
    from samurai.cli import main

    assert main(["app", str(tmp_path / "nope"), "--random-weights"]) == 2
    assert "is not a folder" in capsys.readouterr().err
