"""What "Export" writes, read back by other readers: a run folder (PNG masks, ``masks.nii.gz``
read by SimpleITK and nibabel with the source's spacing and frame time, for a DICOM cine
``seg.dcm`` read back by highdicom by source frame and validated by dciodvfy) that
``samurai report`` reads, and the chamber report beside it (report.json values against the
masks' pixel counts). A DICOM cine opened through the API leaves no patient identity in the
session folder, its JSON or the page's responses."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from app_helpers import FRAMES
from fixtures_sam2 import SYNTHETIC_BOXES
from PIL import Image
from test_app_api import boxed, masks_on_disk, wait

pytestmark = pytest.mark.slow
SPACING = (0.03, 0.04)  # cm per pixel (column, row) of the test cine
FRAME_TIME_MS = 25.0


def _nifti(path):
    """labels [T, H, W], (sx, sy) in mm and the time step in s, as SimpleITK reads them."""
    sitk = pytest.importorskip("SimpleITK")
    image = sitk.ReadImage(str(path))
    sx, sy, _, dt = image.GetSpacing()
    return sitk.GetArrayFromImage(image)[:, 0], (sx, sy), dt


def _area_agrees(reported, mask, pixel_area):
    """The report's area is the outline's (marching squares) area of the mask's largest piece:
    within half a pixel per boundary pixel of that piece's pixel count, holes filled (SciPy's
    labelling and hole filling, a second implementation)."""
    from scipy import ndimage

    pieces, n = ndimage.label(mask)
    assert n >= 1
    largest = np.argmax(np.bincount(pieces.ravel())[1:]) + 1
    mask = ndimage.binary_fill_holes(pieces == largest)
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    inner[[0, -1]] = False
    inner[:, [0, -1]] = False
    boundary = int((mask & ~inner).sum())
    assert abs(reported / pixel_area - mask.sum()) <= 0.5 * boundary + 2, (reported, mask.sum(), boundary)


def _report_checks(report_dir, masks, pixel_area):
    doc = json.loads((report_dir / "report.json").read_text())
    (view,) = doc["views"].values()
    es = view["beats"][0]["es"]
    la_area = next(v for v in doc["values"] if v["key"] == "la_area")
    _area_agrees(la_area["value"], masks[es] == 2, pixel_area)  # LA area at LV end-systole
    if shutil.which("chromium"):
        assert (report_dir / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert "<html" in (report_dir / "report.html").read_text().lower()
    return doc, view, la_area


def test_export_is_a_run_folder_with_nifti_and_report(make_app, tmp_path):
    client = make_app()
    sid = boxed(client)
    masks = masks_on_disk(client.store, sid)
    r = client.post(f"/api/sessions/{sid}/export", json={"kind": "png"})
    assert r.status_code == 200, r.text
    out = r.json()
    run = Path(out["path"])
    assert out["files"] == ["labels.json", "manifest.json", "masks", "masks.nii.gz"]  # no SEG: not a DICOM
    labels, (sx, sy), _ = _nifti(run / "masks.nii.gz")
    assert np.array_equal(labels, np.stack([masks[t] for t in range(FRAMES)]))
    assert (sx, sy) == (1.0, 1.0)  # a frame folder's spacing is unknown: 1 mm, said in the header
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["source"]["units"]["area"] == "px²" and manifest["names"] == {"1": "lv", "2": "la"}
    assert manifest["model"] == "tiny" and manifest["random_weights"] is True  # the worker's provenance

    # the report beside it, and `samurai report` reads the folder as a track run
    doc, view, la_area = _report_checks(Path(out["report"]), masks, 1.0)
    assert la_area["unit"] == "px²" and view["spacing_cm"] is None
    from samurai.cli import main

    assert main(["report", str(run), "--out", str(tmp_path / "again"), "--no-pdf"]) == 0
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert [v["value"] for v in again["values"]] == [v["value"] for v in doc["values"]]


def test_export_says_why_not_the_report_or_the_nifti(make_app, video_root, tmp_path):
    """No structure named lv/la/rv/ra: no report, said; the video moved away: the PNG masks
    are still exported, and the message says why there is no NIfTI."""
    folder = tmp_path / "data"
    shutil.copytree(video_root / "clip", folder / "clip")
    client = make_app(folders=[folder])
    sid = client.post("/api/open", json={"root": 0, "path": "clip"}).json()["id"]
    box = list(SYNTHETIC_BOXES.values())[0]
    assert (
        client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": "blob", "box": box}).status_code
        == 200
    )
    client.post(f"/api/sessions/{sid}/propagate", json={})
    assert wait(client, sid)["state"] == "done"
    out = client.post(f"/api/sessions/{sid}/export", json={"kind": "png"}).json()
    assert out["report"] is None and not Path(out["path"] + "_report").exists()
    assert any("no chamber report" in n and "lv, la, rv or ra" in n for n in out["notes"]), out["notes"]
    assert (Path(out["path"]) / "masks.nii.gz").is_file()

    (folder / "clip").rename(folder / "moved")
    again = client.post(f"/api/sessions/{sid}/export", json={"kind": "png"}).json()
    assert again["path"] != out["path"]  # a second export in the same second gets its own folder
    assert again["files"] == ["labels.json", "manifest.json", "masks"]
    assert any("not below the folders" in n for n in again["notes"]), again["notes"]
    masks = masks_on_disk(client.store, sid)
    for t in range(FRAMES):
        assert np.array_equal(
            np.asarray(Image.open(Path(again["path"]) / "masks" / f"{t:05d}.png")), masks[t]
        )


def test_dicom_cine_open_propagate_export(make_app, tmp_path, monkeypatch):
    pytest.importorskip("highdicom")
    import hashlib

    import highdicom as hd
    from pydicom import dcmread

    from samurai.dicom.privacy import SALT_ENV, identifying_values
    from samurai.dicom.synthetic import echo_frames, write_ultrasound

    monkeypatch.delenv(SALT_ENV, raising=False)
    folder = tmp_path / "studies"
    source = write_ultrasound(
        folder / "IM0001.dcm", echo_frames(FRAMES, (96, 128)), spacing_cm=SPACING, frame_time_ms=FRAME_TIME_MS
    )
    src = dcmread(source)
    identity = identifying_values(src)
    assert "Phantom" in identity  # the made-up patient is there to be leaked

    client = make_app(folders=[folder])
    responses = [client.get("/api/list", params={"root": 0}).text]
    opened = client.post("/api/open", json={"root": 0, "path": "IM0001.dcm"})
    assert opened.status_code == 200, opened.text
    sid = opened.json()["id"]
    assert opened.json()["frames"] == FRAMES and opened.json()["width"] == 128
    for name, box in zip(("lv", "la"), SYNTHETIC_BOXES.values()):
        r = client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": name, "box": box})
        assert r.status_code == 200, r.text
    client.post(f"/api/sessions/{sid}/propagate", json={})
    assert wait(client, sid)["state"] == "done"
    masks = masks_on_disk(client.store, sid)

    # the page's area curve: cm² with the spacing of the cine's ultrasound region (pydicom)
    region = src.SequenceOfUltrasoundRegions[0]
    delta = (float(region.PhysicalDeltaX), float(region.PhysicalDeltaY))
    summary = client.get(f"/api/sessions/{sid}").json()
    assert summary["area_unit"] == "cm²" and summary["spacing"]["cm"] == pytest.approx(delta)
    for t in range(FRAMES):
        for oid in (1, 2):
            count = int((masks[t] == oid).sum())
            assert summary["areas"][str(oid)][t] == pytest.approx(count * delta[0] * delta[1])
    export = client.post(f"/api/sessions/{sid}/export", json={"kind": "png"})
    assert export.status_code == 200, export.text
    out = export.json()
    run = Path(out["path"])
    assert {"masks.nii.gz", "seg.dcm"} <= set(out["files"])

    # NIfTI: the labels with the cine's spacing (mm) and frame time (s), read by SimpleITK
    labels, (sx, sy), dt = _nifti(run / "masks.nii.gz")
    assert np.array_equal(labels, np.stack([masks[t] for t in range(FRAMES)]))
    assert (sx, sy) == pytest.approx((10 * SPACING[0], 10 * SPACING[1])) and dt == pytest.approx(
        FRAME_TIME_MS / 1000
    )

    # SEG: valid for dciodvfy, and highdicom gives back each chamber by source frame
    if shutil.which("dciodvfy"):
        check = subprocess.run(["dciodvfy", str(run / "seg.dcm")], capture_output=True, text=True)
        text = check.stdout + check.stderr
        assert [line for line in text.splitlines() if line.startswith("Error")] == [], text
    seg = hd.seg.segread(str(run / "seg.dcm"))
    numbers = {str(d.SegmentLabel): int(d.SegmentNumber) for d in seg.SegmentSequence}
    assert sorted(numbers) == ["LA", "LV"]
    pixels = seg.get_pixels_by_source_frame(
        src.SOPInstanceUID, list(range(1, FRAMES + 1)), segment_numbers=[numbers["LV"], numbers["LA"]]
    )
    truth = np.stack([masks[t] for t in range(FRAMES)])
    assert np.array_equal(pixels[..., 0].astype(bool), truth == 1)
    assert np.array_equal(pixels[..., 1].astype(bool), truth == 2)

    # the report: in cm², with the cine's spacing, frame time and (hashed) study
    doc, view, la_area = _report_checks(Path(out["report"]), masks, SPACING[0] * SPACING[1])
    assert la_area["unit"] == "cm²" and view["spacing_cm"] == pytest.approx(list(SPACING))
    assert view["frame_time_s"] == pytest.approx(FRAME_TIME_MS / 1000)
    assert view["study_hash"] == hashlib.sha256(f"\x00{src.StudyInstanceUID}".encode()).hexdigest()[:12]

    # privacy: no identifying value in the session's folder names, files (but seg.dcm, which
    # belongs to the study), session JSON or the page's responses
    responses += [
        opened.text,
        export.text,
        client.get(f"/api/sessions/{sid}").text,
        client.get("/api/sessions").text,
        client.get(f"/api/sessions/{sid}/meta/3").text,
    ]
    session = client.store.folder / sid
    assert (session / "session.json").is_file()
    leaks = []
    for path in [session, *session.rglob("*")]:
        data = path.read_bytes() if path.is_file() and path.name != "seg.dcm" else b""
        for value in identity:
            if value.lower() in path.name.lower() or value.lower().encode() in data.lower():
                leaks.append((str(path), value))
    leaks += [(text[:60], v) for text in responses for v in identity if v.lower() in text.lower()]
    assert leaks == []
