"""report.html in a real browser: headless Chromium (Debian's, driven by Playwright) with the
network off must show the page with no console error, no failed request, and plots that are
not blank."""

import io
import os
import shutil

import numpy as np
import pytest
from runs import phantom_run

from samurai.cli import main

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")

CHROMIUM = next(
    (
        p
        for p in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and os.path.exists(p)
    ),
    None,
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")


def test_report_page_in_headless_chromium(tmp_path):
    from PIL import Image

    phantom_run(tmp_path / "a4c")
    assert main(["report", str(tmp_path / "a4c"), "--no-pdf", "--out", str(tmp_path / "rep")]) == 0
    page_url = (tmp_path / "rep" / "report.html").resolve().as_uri()
    errors, failed, requested = [], [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        # Anything but the page itself and its inline data is a request to the network: refuse it.
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort()
            ),
        )
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("request", lambda r: requested.append(r.url))
        page.goto(page_url, wait_until="load")
        plots = page.locator("img.plot")
        assert plots.count() >= 4  # area curves, volume curve, ED and ES stills
        shots = []
        for i in range(plots.count()):
            img = plots.nth(i)
            assert img.evaluate("e => e.complete && e.naturalWidth > 0"), f"plot {i} did not load"
            shots.append(Image.open(io.BytesIO(img.screenshot())).convert("RGB"))
        text = page.inner_text("body")
        browser.close()
    assert errors == [] and failed == []
    assert all(u.startswith(("file:", "data:")) for u in requested), requested
    assert "PHANTOM" in text and "LV EF" in text
    for i, shot in enumerate(shots):
        px = np.asarray(shot, np.float64)
        colours = len(np.unique(px.reshape(-1, 3), axis=0))
        # A blank (white or single-colour) plot has no spread and a handful of colours.
        assert px.std() > 20 and colours > 50, f"plot {i} looks blank ({colours} colours)"
