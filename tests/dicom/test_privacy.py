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
    write_masks_nifti(out / "masks.nii.gz", np.zeros((3, 16, 16), np.uint8), frames.info.spacing,
                      frames.info.frame_time_ms)
    assert entry["units"]["area"] == "cm²" and entry["study_hash"] == frames.info.study_hash
    assert _leaks(out, values) == []


@pytest.mark.slow
def test_track_on_a_dicom_cine_writes_no_identity(sam2_tiny_checkpoint, tmp_path):
    from samurai.cli import main

    path = write_ultrasound(tmp_path / "in" / "echo.dcm", echo_frames(3, (64, 64)), encoding="jpeg",
                            photometric="YBR_FULL_422")
    values = identifying_values(dcmread(path))
    out = tmp_path / "run"
    rc = main(["track", str(path), "--box", "20,12,44,40", "--out", str(out),
               "--checkpoint", str(sam2_tiny_checkpoint), "--image-size", "256"])
    assert rc == 0
    assert len(list((out / "masks").glob("*.png"))) == 3
    assert _leaks(out, values) == []
