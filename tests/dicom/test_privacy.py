"""No identifying attribute of a DICOM study reaches samurai's outputs: a track run on a DICOM
cine, and the manifest entry and NIfTI the app writes for it, are searched for every
identifying value the file holds."""

import json

import numpy as np
import pytest
from pydicom import dcmread

from samurai.dicom.privacy import SALT_ENV, identifying_values, manifest_source, study_salt
from samurai.dicom.synthetic import PATIENT, echo_frames, write_ultrasound
from samurai.nifti import write_masks_nifti
from samurai_common.dicom import open_dicom
from samurai_common.source_info import study_hash


def _leaks(folder, values):
    """(file, value) for each identifying value found in a file's bytes or a path's name."""
    found = []
    for path in folder.rglob("*"):
        for value in values:
            if value.lower() in str(path.relative_to(folder)).lower():
                found.append((str(path), value))
            if path.is_file() and value.encode().lower() in path.read_bytes().lower():
                found.append((str(path), value))
    return found


def test_identifying_values_cover_the_made_up_patient(tmp_path):
    ds = dcmread(write_ultrasound(tmp_path / "echo.dcm", echo_frames(2, (16, 16))))
    values = identifying_values(ds)
    for value in PATIENT.values():
        if len(value) >= 4:
            assert value in values
    assert ds.StudyInstanceUID in values and "Phantom" in values


def test_study_hash_is_salted_and_never_the_uid(tmp_path, monkeypatch):
    path = write_ultrasound(tmp_path / "echo.dcm", echo_frames(2, (16, 16)))
    uid = dcmread(path).StudyInstanceUID
    monkeypatch.delenv(SALT_ENV, raising=False)
    plain = open_dicom(path, salt=study_salt()).info.study_hash
    monkeypatch.setenv(SALT_ENV, "site secret")
    salted = open_dicom(path, salt=study_salt(), hash_length=16).info.study_hash
    import hashlib

    assert plain == hashlib.sha256(f"\x00{uid}".encode()).hexdigest()[:12]
    assert salted == hashlib.sha256(f"site secret\x00{uid}".encode()).hexdigest()[:16]
    assert uid not in (plain, salted) and study_hash(uid) == plain


def test_manifest_entry_and_nifti_carry_no_identity(tmp_path):
    path = write_ultrasound(tmp_path / "in" / "echo.dcm", echo_frames(3, (16, 16)))
    values = identifying_values(dcmread(path))
    frames = open_dicom(path)
    out = tmp_path / "run"
    out.mkdir()
    entry = manifest_source(frames.info, len(frames))
    (out / "manifest.json").write_text(json.dumps({"source": entry}))
    write_masks_nifti(
        out / "masks.nii.gz", np.zeros((3, 16, 16), np.uint8), frames.info.spacing, frames.info.frame_time_ms
    )
    assert entry["units"]["area"] == "cm²" and entry["study_hash"] == frames.info.study_hash
    assert _leaks(out, values) == []


def test_the_salt_is_never_recorded():
    from samurai.dicom.privacy import redact_argv

    argv = ["samurai", "track", "x.dcm", "--study-salt", "site secret", "--study-salt=other"]
    assert redact_argv(argv) == [
        "samurai",
        "track",
        "x.dcm",
        "--study-salt",
        "(hidden)",
        "--study-salt=(hidden)",
    ]


@pytest.mark.slow
def test_track_on_a_dicom_cine_writes_no_identity(sam2_tiny_checkpoint, tmp_path, capsys):
    """A track run on a cine that names its patient: no identifying value in any file name, any
    file but seg.dcm (the documented exception: it files beside its source) or the text printed;
    the manifest's source block has the file's units and the salted study hash; masks.nii.gz
    (read with nibabel) and seg.dcm (read with highdicom) hold the masks of masks/*.png (Pillow)."""
    import hashlib

    import nibabel as nib
    from PIL import Image

    from samurai.cli import main
    from samurai.dicom.seg import read_segmentation

    path = write_ultrasound(
        tmp_path / "in" / "IM0001",
        echo_frames(3, (64, 64)),
        encoding="jpeg",
        photometric="YBR_FULL_422",
        spacing_cm=(0.03, 0.04),
        frame_time_ms=20.0,
        heart_rate=66,
    )
    ds = dcmread(path)
    values = identifying_values(ds)
    assert {"Phantom^Jane^Q", "PID-8675309", "19700101"} <= set(values)
    out = tmp_path / "run"
    rc = main(
        [
            "track",
            str(path),
            "--box",
            "20,12,44,40",
            "--box",
            "4,4,18,18",
            "--names",
            "lv,la",
            "--view",
            "A4C",
            "--study-salt",
            "site secret",
            "--out",
            str(out),
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--image-size",
            "256",
        ]
    )
    printed = capsys.readouterr()
    assert rc == 0
    files = {p.name for p in out.iterdir() if p.is_file()} - {"overlay.mp4"}  # MP4: with an encoder
    assert files == {"manifest.json", "masks.nii.gz", "overlay.gif", "scores.csv", "seg.dcm"}
    assert _leaks(out, values) == [
        (str(out / "seg.dcm"), v)
        for v in values
        if v.encode().lower() in (out / "seg.dcm").read_bytes().lower()
    ]
    assert str(dcmread(out / "seg.dcm").PatientName) == str(ds.PatientName)
    for value in values:
        assert value.lower() not in (printed.out + printed.err).lower(), value
    manifest = json.loads((out / "manifest.json").read_text())
    assert "site secret" not in json.dumps(manifest)
    source = manifest["source"]
    want_hash = hashlib.sha256(f"site secret\x00{ds.StudyInstanceUID}".encode()).hexdigest()[:12]
    assert source["study_hash"] == want_hash and source["kind"] == "DICOM"
    assert source["spacing_cm"] == pytest.approx([0.03, 0.04]) and source["units"]["area"] == "cm²"
    assert source["frame_time_ms"] == pytest.approx(20.0) and source["heart_rate_bpm"] == 66
    assert manifest["view"] == "A4C" and manifest["names"] == {"1": "lv", "2": "la"}
    assert manifest["exports"] == {
        "nifti": "masks.nii.gz",
        "seg": "seg.dcm",
        "seg_segments": {"1": "LV", "2": "LA"},
    }
    pngs = np.stack([np.asarray(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))])
    image = nib.load(str(out / "masks.nii.gz"))
    assert np.array_equal(np.asarray(image.dataobj)[:, :, 0, :].transpose(2, 1, 0), pngs)
    assert image.header.get_zooms()[:2] == pytest.approx((0.3, 0.4))  # mm
    seg = read_segmentation(out / "seg.dcm", n_source_frames=3)
    assert np.array_equal(seg["LV"], pngs == 1) and np.array_equal(seg["LA"], pngs == 2)
