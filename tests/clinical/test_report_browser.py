"""report.html in a real browser: headless Chromium (Debian's, driven by Selenium) with the
network off must show the page with no console error, no failed request, no request but the
page's own file and inline data, and plots that are not blank."""

import io

import numpy as np
from headless_chromium import chromium, console_errors, need_chromium, network_requests
from runs import phantom_run

from samurai.cli import main


def test_report_page_in_headless_chromium(tmp_path):
    from PIL import Image

    need_chromium()
    phantom_run(tmp_path / "a4c")
    assert main(["report", str(tmp_path / "a4c"), "--no-pdf", "--out", str(tmp_path / "rep")]) == 0
    page_url = (tmp_path / "rep" / "report.html").resolve().as_uri()
    with chromium(1200, 900, offline=True) as d:
        d.get(page_url)  # returns once the page has loaded
        plots = d.find_elements("css selector", "img.plot")
        assert len(plots) >= 4  # area curves, volume curve, ED and ES stills
        shots = []
        for i, img in enumerate(plots):
            loaded = d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
            assert loaded, f"plot {i} did not load"
            shots.append(Image.open(io.BytesIO(img.screenshot_as_png)).convert("RGB"))
        text = d.find_element("tag name", "body").text
        errors = console_errors(d)
        requested, failed = network_requests(d)
    assert errors == [] and failed == []
    # With the network off any other request fails; this names it even where it did not.
    assert requested and all(u.startswith(("file:", "data:")) for u in requested), requested
    assert "PHANTOM" in text and "LV EF" in text
    for i, shot in enumerate(shots):
        px = np.asarray(shot, np.float64)
        colours = len(np.unique(px.reshape(-1, 3), axis=0))
        # A blank (white or single-colour) plot has no spread and a handful of colours.
        assert px.std() > 20 and colours > 50, f"plot {i} looks blank ({colours} colours)"
