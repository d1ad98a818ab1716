"""End to end in headless Chromium (Debian's chromium + chromedriver, driven by Selenium),
offline, against ``samurai app`` started from the command line with a random-init SAM 2 tiny
at 128 px: open a 6-frame clip, box two structures, propagate, enter a pixel spacing and the
view (the area curve's axis turns from px² to cm², and both are there after a reload),
click-correct frame 3, re-propagate, check on disk that only frames 3.. changed, export masks
and training data and check the files. The oracle is the disk (PIL decodes the PNGs; the generic loader reads the
training case) and the page's own pixels (the overlay is drawn where a mask is)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from app_helpers import FRAMES
from fixtures_sam2 import SYNTHETIC_BOXES
from headless_chromium import chromium, console_errors, need_chromium, network_requests
from PIL import Image

pytestmark = pytest.mark.slow
SCREENSHOT = os.environ.get("SAMURAI_APP_SCREENSHOT")  # where to save the page (docs/images/app.png)


@pytest.fixture
def server(video_root, tmp_path):
    need_chromium()
    pytest.importorskip("sam2")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), str(Path.cwd() / "backends")])}
    sessions = tmp_path / "sessions"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "samurai",
            "app",
            str(video_root),
            "--random-weights",
            "--image-size",
            "128",
            "--device",
            "cpu",
            "--port",
            "0",
            "--sessions",
            str(sessions),
            "--training-out",
            str(tmp_path / "training"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    line = ""
    deadline = time.monotonic() + 120
    while "open http" not in line:
        assert time.monotonic() < deadline and proc.poll() is None, "the app did not start"
        line = proc.stdout.readline()
    yield re.search(r"http://\S+", line).group(0), sessions, tmp_path / "training"
    proc.terminate()
    proc.wait(30)
    proc.stdout.close()


@pytest.fixture
def browser():
    with chromium(1400, 900) as driver:
        yield driver


def until(driver, script, timeout=180):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for: {script}; page says {driver.find_element('id', 'msg').text!r}"
    )


def go_to(driver, t: int) -> None:
    """Move the frame slider to ``t`` as a person dragging it would (an input event)."""
    driver.execute_script(
        "const f = document.getElementById('frame'); f.value = arguments[0];"
        "f.dispatchEvent(new Event('input'));",
        t,
    )
    until(driver, f"return window.samuraiApp.t === {t}")


def on_canvas(driver, x: float, y: float):
    """The canvas and Selenium's offset (from the element's centre, CSS pixels) of video pixel
    ``(x, y)``'s centre."""
    canvas = driver.find_element("id", "view")
    w, h = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas
    )
    return canvas, int(round((x + 0.5) * w / 128 - w / 2)), int(round((y + 0.5) * h / 96 - h / 2))


def drag_box(driver, box) -> None:
    """Drag on the canvas from one corner of ``box`` (video pixels) to the other."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas, ax, ay = on_canvas(driver, box[0], box[1])
    _, bx, by = on_canvas(driver, box[2], box[3])
    ActionChains(driver).move_to_element_with_offset(
        canvas, ax, ay
    ).click_and_hold().move_to_element_with_offset(canvas, bx, by).release().perform()


def click(driver, x: float, y: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    canvas, ox, oy = on_canvas(driver, x, y)
    ActionChains(driver).move_to_element_with_offset(canvas, ox, oy).click().perform()


def masks(sessions: Path, sid: str) -> dict[int, np.ndarray]:
    return {t: np.asarray(Image.open(sessions / sid / "masks" / f"{t:05d}.png")) for t in range(FRAMES)}


def set_calibration(driver, spacing: str, view: str | None = None) -> None:
    from selenium.webdriver.support.ui import Select

    field = driver.find_element("id", "spacing")
    field.clear()
    field.send_keys(spacing)
    if view is not None:
        Select(driver.find_element("id", "view-name")).select_by_value(view)
    driver.find_element("id", "set-calibration").click()


def propagate(driver):
    driver.find_element("id", "propagate").click()
    until(driver, "return document.body.dataset.busy === '1'", 30)
    until(driver, "return document.body.dataset.busy === '0'")


def test_review_in_the_browser(server, browser):
    url, sessions, training = server
    d = browser
    d.get(url)
    until(d, "return document.querySelector('#files li[data-path=\"clip\"]') !== null", 30)
    d.find_element("css selector", '#files li[data-path="clip"]').click()
    until(d, "return window.samuraiApp.summary && window.samuraiApp.summary.frames === 6")
    sid = d.execute_script("return window.samuraiApp.sid")
    assert "UNTRAINED" in d.find_element("id", "model").text

    for name, box in zip(("lv", "la"), SYNTHETIC_BOXES.values()):
        field = d.find_element("id", "name")
        field.clear()
        field.send_keys(name)
        drag_box(d, box)
        until(
            d, f"return Object.values(window.samuraiApp.summary.objects).some(o => o.name === '{name}')", 120
        )
    assert d.find_element("id", "msg").get_attribute("class") != "error"
    propagate(d)
    assert d.execute_script("return window.samuraiApp.summary.tracked.length") == FRAMES
    before = masks(sessions, sid)
    inodes = {t: (sessions / sid / "masks" / f"{t:05d}.png").stat().st_ino for t in range(FRAMES)}

    # the overlay: where the mask of frame 0 is, the canvas differs from the plain frame
    ys, xs = np.nonzero(before[0])
    assert len(ys), "the random model gave no mask on frame 0"
    shown = d.execute_script(
        "const c = document.getElementById('view').getContext('2d');"
        f"return Array.from(c.getImageData({int(xs[0])}, {int(ys[0])}, 1, 1).data);"
    )
    frame0 = np.asarray(Image.open(sessions / sid / "frames" / "00000.jpg").convert("RGB"))
    assert np.abs(np.asarray(shown[:3], float) - frame0[ys[0], xs[0]]).max() > 20

    # the curve's axis names its unit; a bad spacing gets a message, a good one turns the
    # curve into cm² and, with the view, is there again after a reload
    assert d.find_element("id", "curve-axis").text.startswith("area (px²")
    set_calibration(d, "abc")
    until(d, "return document.getElementById('msg').className === 'error'", 30)
    assert "cm per pixel" in d.find_element("id", "msg").text
    refused = console_errors(d)  # the page's only errors so far: that one refused entry
    assert len(refused) == 1 and "400" in refused[0], refused
    set_calibration(d, "0.05", "A4C")
    until(d, "return document.getElementById('curve-axis').textContent === 'area (cm²)'", 30)
    d.refresh()
    until(d, f"return document.querySelector('#sessions li[data-sid=\"{sid}\"]') !== null", 30)
    d.find_element("css selector", f'#sessions li[data-sid="{sid}"]').click()
    until(d, "return window.samuraiApp.summary !== null && window.samuraiApp.sid !== null")
    assert d.find_element("id", "curve-axis").text == "area (cm²)"
    assert d.find_element("id", "spacing").get_attribute("value") == "0.05"
    assert d.find_element("id", "view-name").get_attribute("value") == "A4C"

    # go to frame 3, choose lv, click inside it, propagate from there
    go_to(d, 3)
    d.find_element("css selector", "input[name=mode][value=pos]").click()
    d.find_element("css selector", '#objects li[data-obj="1"] input.pick').click()
    click(d, 40, 43)
    until(d, "return document.getElementById('msg').textContent.includes('positive click on frame 3')", 120)
    propagate(d)
    after = masks(sessions, sid)
    for t in range(3):
        assert np.array_equal(after[t], before[t]), t
        assert (sessions / sid / "masks" / f"{t:05d}.png").stat().st_ino == inodes[t], t
    assert not np.array_equal(after[3], before[3])
    rows = d.execute_script(
        "return Array.from(document.querySelectorAll('#decision tbody tr')).map(r => r.innerText)"
    )
    assert len(rows) == 2 and any("prompt" in r for r in rows)

    # export, then check the files on disk
    d.find_element("id", "export-png").click()
    out = Path(until(d, "return document.getElementById('msg').dataset.path", 60))
    assert out.parent == sessions / sid / "exports"
    for t in range(FRAMES):
        assert np.array_equal(np.asarray(Image.open(out / "masks" / f"{t:05d}.png")), after[t])
    nib = pytest.importorskip("nibabel")
    nifti = np.asarray(nib.load(out / "masks.nii.gz").dataobj)  # (W, H, 1, T)
    assert np.array_equal(nifti[:, :, 0].transpose(2, 1, 0), np.stack([after[t] for t in range(FRAMES)]))
    report = Path(d.execute_script("return document.getElementById('msg').dataset.report"))
    assert report == out.with_name(out.name + "_report")
    values = {v["key"]: v for v in json.loads((report / "report.json").read_text())["values"]}
    assert values["la_area"]["unit"] == "cm²" and "lv_ef:A4C:discs" in values
    assert nib.load(out / "masks.nii.gz").header.get_zooms()[:2] == pytest.approx((0.5, 0.5))  # mm
    d.execute_script("delete document.getElementById('msg').dataset.path")
    d.find_element("id", "export-train").click()
    case = Path(until(d, "return document.getElementById('msg').dataset.path", 60))
    assert case.parent == training
    from samurai.data.generic import load_generic

    loaded = load_generic(training)[0]
    assert loaded.masks.shape == (FRAMES, 96, 128)
    assert np.array_equal(loaded.masks[3], after[3])
    assert {v.lower() for v in loaded.labels.values()} == {"lv", "la"}
    # Offline by construction: every request of the whole review went to the app itself (no
    # CDN, no font, no analytics), and the page logged no error but the refused entry's.
    requested, failed = network_requests(d)
    origin = url.rstrip("/") + "/"
    assert requested and [u for u in requested if not u.startswith((origin, "data:", "blob:"))] == []
    assert failed == [] and console_errors(d) == []
    if SCREENSHOT:
        go_to(d, 4)
        d.execute_script("document.getElementById('msg').textContent = ''")
        time.sleep(0.5)
        d.save_screenshot(SCREENSHOT)
