"""`samurai report` end to end on run folders of known chambers, and its refusals."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from runs import phantom_run, write_run
from shapes import contraction, heart_masks

from samurai.cli import main

STUDY = "5f0c1a9e2b7d"  # the study hash phantom_run records


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    ph = phantom_run(root / "a4c")
    p = contraction(44, 20, 10.0)
    write_run(
        root / "a2c",
        heart_masks(p, 0.4, chambers=("lv", "la")),
        view="2CH",
        study_hash=STUDY,
        spacing_cm=[0.03, 0.03],
        frame_time_ms=40.0,
        phantom=True,
    )
    return root, ph


def report(*argv):
    return main(["report", *map(str, argv)])


def test_phantom_study_report(runs, capsys):
    from samurai_phantom.phantom import _CHAMBERS, cardiac_phase

    root, _ = runs
    out = root / "rep"
    assert (
        report(root / "a4c", root / "a2c", "--sex", "female", "--height", 170, "--weight", 65, "--out", out)
        == 0
    )
    doc = json.loads((out / "report.json").read_text())
    values = {v["key"]: v for v in doc["values"]}
    # The phantom's LV is an ellipse whose radii shrink by (0.74, 0.86) at full contraction:
    # a spheroid's EF at the phantom's ES frame (single-plane discs of the A4C view).
    es = doc["views"]["A4C"]["beats"][0]["es"]
    phase = cardiac_phase(np.array([es]), 20.0)[0]
    _, _, _, _, _, fx, fy = _CHAMBERS[1]
    ratio = (1 - (1 - fx) * phase) ** 2 * (1 - (1 - fy) * phase)
    assert values["lv_ef:A4C:discs"]["value"] == pytest.approx(100 * (1 - ratio), abs=2.0)
    assert doc["views"]["A4C"]["heart_rate_bpm"] == pytest.approx(25 * 60 / 20)
    assert values["lv_ef"]["method"].startswith("biplane") and values["lv_ef"]["value"] is not None
    assert values["lavi"]["unit"] == "mL/m²" and values["lavi"]["value"] > 0
    assert "Mosteller" in doc["bsa_source"]
    assert all(r["sex"] == "female" for r in values["lv_ef"]["ranges"])
    assert doc["views"]["A4C"]["stamps"] == ["PHANTOM"]
    page = (out / "report.html").read_text()
    assert "PHANTOM" in page and "Lang et al." in page
    # Self-contained: no reference to anything outside the page.
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)', page)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert page.count('src="data:image/png;base64,') >= 6  # curves, volume curves, 4 stills
    if (out / "report.pdf").exists():
        assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
        if shutil.which("pdftotext"):  # poppler reads back what Chromium printed
            text = subprocess.run(
                ["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True, check=True
            ).stdout
            assert "Chamber quantification" in text and "LV EF" in text and "PHANTOM" in text
    else:
        assert "Chromium" in capsys.readouterr().out


def test_spacing_unknown_reports_pixels_and_says_so(tmp_path):
    write_run(tmp_path / "nospace", heart_masks(contraction(30, 20, 10.0), 0.4), view="A4C")
    assert report(tmp_path / "nospace", "--no-pdf", "--out", tmp_path / "r") == 0
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["units"] == {"length": "px", "area": "px²", "volume": "px³", "index": "px³/m²"}
    assert "Pixel spacing unknown" in (tmp_path / "r" / "report.html").read_text()
    assert not (tmp_path / "r" / "report.pdf").exists()


def test_chamber_absent_everywhere_leaves_its_values_missing(tmp_path):
    masks = heart_masks(contraction(30, 20, 10.0), 0.4)
    masks["rv"][:] = False
    write_run(tmp_path / "run", masks, view="A4C", spacing_cm=[0.03, 0.03])
    assert report(tmp_path / "run", "--no-pdf", "--out", tmp_path / "r") == 0
    values = {v["key"]: v for v in json.loads((tmp_path / "r" / "report.json").read_text())["values"]}
    assert values["rv_fac"]["value"] is None
    assert "RV not segmented on any frame" in values["rv_fac"]["missing"]
    assert values["ra_area"]["value"] > 0 and values["lv_ef:A4C:discs"]["value"] > 0


def test_refusals(runs, tmp_path, capsys):
    root, _ = runs
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "manifest.json").write_text(json.dumps({"tool": "samurai", "names": {"1": "lv"}}))
    assert report(tmp_path / "empty") == 2
    assert "no masks/*.png" in capsys.readouterr().err
    assert report(tmp_path / "nothing_here") == 2
    # A2C from another study: refused when paired by their manifests, allowed when named.
    write_run(
        tmp_path / "other",
        heart_masks(contraction(30, 20, 10.0), 0.4, chambers=("lv", "la")),
        view="A2C",
        study_hash="0a1b2c3d4e5f",
        spacing_cm=[0.03, 0.03],
        frame_time_ms=40.0,
    )
    assert report(root / "a4c", tmp_path / "other", "--out", tmp_path / "x") == 2
    assert "different studies" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert (
        report("--a4c", root / "a4c", "--a2c", tmp_path / "other", "--no-pdf", "--out", tmp_path / "y") == 0
    )
    doc = json.loads((tmp_path / "y" / "report.json").read_text())
    assert any("different studies" in n for n in doc["views"]["A4C"]["notes"])
    # A folder samurai did not write is never replaced.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert report(root / "a4c", "--no-pdf", "--out", tmp_path / "mine", "--force") == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    # Bad numbers.
    assert report(root / "a4c", "--height", 170) == 2
    assert report(root / "a4c", "--spacing", "0.03") == 2
    err = capsys.readouterr().err
    assert "--weight" in err and "--spacing" in err


def test_run_without_names_needs_labels(tmp_path, capsys):
    masks = heart_masks(contraction(30, 20, 10.0), 0.4, chambers=("lv", "la"))
    write_run(tmp_path / "run", masks, view="A4C")
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    del m["names"]
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(m))
    assert report(tmp_path / "run", "--no-pdf", "--out", tmp_path / "r") == 2
    assert "--labels" in capsys.readouterr().err
    assert report(tmp_path / "run", "--labels", "lv,la", "--no-pdf", "--out", tmp_path / "r") == 0


def test_clip_shorter_than_a_beat_is_reported(tmp_path):
    write_run(tmp_path / "run", heart_masks(contraction(8, 20, 0.0), 0.4), view="A4C", frame_time_ms=40.0)
    assert report(tmp_path / "run", "--no-pdf", "--out", tmp_path / "r") == 0
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["views"]["A4C"]["whole_clip"] is True
    assert any("shorter than one beat" in n for n in doc["methods"]["beats"])


def test_report_after_track_writes_beside_the_run_and_never_raises(tmp_path):
    from samurai.clinical.report import report_after_track

    write_run(tmp_path / "run", heart_masks(contraction(30, 20, 10.0), 0.4), frame_time_ms=40.0)
    line = report_after_track(tmp_path / "run", pdf=False)
    assert line.startswith(f"wrote {tmp_path / 'run_report'}/") and "LV EF" in line
    doc = json.loads((tmp_path / "run_report" / "report.json").read_text())
    assert doc["views"]["A4C"]["view_source"].startswith("assumed")
    again = report_after_track(tmp_path / "run", pdf=False)  # the report folder is in the way
    assert again.startswith("note: no chamber report") and "samurai report" in again
    assert report_after_track(tmp_path / "run", force=True, pdf=False).startswith("wrote")
    (tmp_path / "boxes").mkdir()
    (tmp_path / "boxes" / "manifest.json").write_text(json.dumps({"tool": "samurai"}))
    assert "--labels" in report_after_track(tmp_path / "boxes")


def test_every_chamber_absent_still_writes_a_report(tmp_path):
    masks = {n: np.zeros((6, 64, 64), bool) for n in ("lv", "la", "rv", "ra")}
    write_run(tmp_path / "run", masks, view="A4C", random_weights=True)
    assert report(tmp_path / "run", "--no-pdf", "--out", tmp_path / "r") == 0
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert all(v["value"] is None and v["missing"] for v in doc["values"])
    assert doc["views"]["A4C"]["stamps"] == ["UNTRAINED"]
    assert "UNTRAINED" in (tmp_path / "r" / "report.html").read_text()


def test_without_chromium_the_pdf_is_skipped_with_a_note(runs, tmp_path, monkeypatch, capsys):
    import samurai.clinical.report as rep

    root, _ = runs
    monkeypatch.setattr(rep, "CHROMIUM_NAMES", ("no-such-browser-for-samurai",))
    assert report(root / "a4c", "--out", tmp_path / "r") == 0
    out = capsys.readouterr().out
    assert "report.pdf not written: Chromium is not installed (apt-get install chromium)" in out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "manifest.json",
        "report.html",
        "report.json",
    ]
