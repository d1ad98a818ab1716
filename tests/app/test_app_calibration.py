"""The page's area curve in physical units: a run folder whose masks are rectangles of known
size (the closed-form area of a w x h rectangle is w * h pixels, w * h * sx * sy cm²) opens with
the spacing its manifest records, or none; a spacing entered in the page (validated) and the
view are kept in the session across a restart and reach the exports: the NIfTI's zooms (read by
SimpleITK) and the chamber report's units and view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_helpers import FRAMES
from PIL import Image

pytestmark = pytest.mark.slow
LV_TOP, LV_LEFT, LV_WIDTH = 10, 20, 30  # the LV rectangle: rows LV_TOP.., columns LV_LEFT..
LA_BOX = (60, 70, 80, 100)  # rows 60:80, columns 70:100: 20 x 30 pixels


def lv_height(t: int) -> int:
    return 40 - 4 * min(t, FRAMES - 1 - t)  # a beat: tall (diastole) at the ends, short mid-way


def write_run(folder: Path, video: Path, spacing_cm=None) -> Path:
    """A run folder as ``samurai track`` writes one, its masks drawn here with NumPy."""
    (folder / "masks").mkdir(parents=True)
    for t in range(FRAMES):
        labels = np.zeros((96, 128), np.uint8)
        labels[LV_TOP : LV_TOP + lv_height(t), LV_LEFT : LV_LEFT + LV_WIDTH] = 1
        r0, c0, r1, c1 = LA_BOX
        labels[r0:r1, c0:c1] = 2
        Image.fromarray(labels).save(folder / "masks" / f"{t:05d}.png")
    manifest = {"video": str(video), "names": {"1": "lv", "2": "la"}, "objects": [1, 2]}
    if spacing_cm is not None:
        manifest["source"] = {"spacing_cm": list(spacing_cm), "spacing_source": "--spacing"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def expected_areas(pixel_area: float) -> dict[str, list[float]]:
    r0, c0, r1, c1 = LA_BOX
    return {
        "1": [LV_WIDTH * lv_height(t) * pixel_area for t in range(FRAMES)],
        "2": [(r1 - r0) * (c1 - c0) * pixel_area] * FRAMES,
    }


def test_recorded_spacing_gives_cm2_and_cannot_be_replaced(make_app, video_root, tmp_path):
    write_run(tmp_path / "runs" / "calibrated", video_root / "clip", spacing_cm=(0.02, 0.03))
    client = make_app(folders=[video_root, tmp_path])
    r = client.post("/api/open", json={"root": 1, "path": "runs/calibrated"})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["area_unit"] == "cm²"
    assert s["spacing"]["cm"] == [0.02, 0.03] and s["spacing"]["from"] == "run"
    for oid, areas in expected_areas(0.02 * 0.03).items():
        assert s["areas"][oid] == pytest.approx(areas, rel=1e-12)
    r = client.post(f"/api/sessions/{s['id']}/calibration", json={"spacing": "0.05"})
    assert r.status_code == 400 and "carries its own spacing" in r.json()["error"]


def test_entered_spacing_and_view(make_app, video_root, tmp_path):
    """No spacing: px² and the pixel counts; bad entries are refused with a message and change
    nothing; a good one turns the curve into cm², survives a restart and sets the exports."""
    write_run(tmp_path / "runs" / "plain", video_root / "clip")
    sessions = tmp_path / "sessions"
    client = make_app(folders=[video_root, tmp_path], sessions=sessions)
    s = client.post("/api/open", json={"root": 1, "path": "runs/plain"}).json()
    sid = s["id"]
    assert s["area_unit"] == "px²" and s["spacing"] is None and s["view"] is None
    for oid, areas in expected_areas(1).items():
        assert s["areas"][oid] == areas

    url = f"/api/sessions/{sid}/calibration"
    for bad in ("0", "-0.03", "nan", "inf", "1e999", "abc", "0.03,0.04,0.05"):
        r = client.post(url, json={"spacing": bad})
        assert r.status_code == 400, bad
        assert "cm per pixel" in r.json()["error"] and repr(bad) in r.json()["error"], r.text
    r = client.post(url, json={"view": "PLAX"})
    assert r.status_code == 400 and "A4C or A2C" in r.json()["error"]
    assert client.get(f"/api/sessions/{sid}").json()["spacing"] is None  # nothing changed

    r = client.post(url, json={"spacing": "0.05,0.04", "view": "a2c"})
    assert r.status_code == 200, r.text
    client.__exit__(None, None, None)

    restarted = make_app(folders=[video_root, tmp_path], sessions=sessions)
    s = restarted.get(f"/api/sessions/{sid}").json()
    assert s["spacing"]["cm"] == [0.05, 0.04] and s["spacing"]["from"] == "entered"
    assert s["view"] == "A2C" and s["area_unit"] == "cm²"
    for oid, areas in expected_areas(0.05 * 0.04).items():
        assert s["areas"][oid] == pytest.approx(areas, rel=1e-12)

    from test_app_exports import _area_agrees, _nifti

    out = restarted.post(f"/api/sessions/{sid}/export", json={"kind": "png"}).json()
    _, (sx, sy), _ = _nifti(Path(out["path"]) / "masks.nii.gz")
    assert (sx, sy) == pytest.approx((0.5, 0.4))  # mm
    masks = {t: np.asarray(Image.open(Path(out["path"]) / "masks" / f"{t:05d}.png")) for t in range(FRAMES)}
    doc = json.loads((Path(out["report"]) / "report.json").read_text())
    assert list(doc["views"]) == ["A2C"] and "lv_ef:A2C:discs" in {v["key"] for v in doc["values"]}
    view = doc["views"]["A2C"]
    assert view["spacing_cm"] == pytest.approx([0.05, 0.04])
    for name, oid in (("lv", 1), ("la", 2)):
        for t, area in enumerate(view["curves"]["area"][name]):
            _area_agrees(area, masks[t] == oid, 0.05 * 0.04)
    assert {v["unit"] for v in doc["values"] if v["key"].startswith("la_area")} == {"cm²"}

    # clearing it goes back to pixels
    s = restarted.post(f"/api/sessions/{sid}/calibration", json={"spacing": ""}).json()
    assert s["spacing"] is None and s["area_unit"] == "px²" and s["view"] == "A2C"
