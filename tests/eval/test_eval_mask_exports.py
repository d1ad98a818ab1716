"""``samurai eval`` writes every case's and method's predicted masks as ``masks.nii.gz`` (and
``seg.dcm`` for a DICOM video): read back with nibabel and highdicom, validated by dciodvfy, and
checked against what eval reported (each structure's Dice recomputed with NumPy from the file
and the dataset's own ground truth), the dataset's header spacing and frame rate
(random-init SAM 2.1 tiny, 256 px)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import numpy as np
import pytest

from samurai.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_torch_thread")]


def _eval(data, out, ckpt, *extra):
    args = ["eval", str(data), "--out", str(out), "--checkpoint", str(ckpt), "--image-size", "256"]
    return main([*args, *map(str, extra)])


def _rows(path):
    return list(csv.DictReader(path.read_text().splitlines()))


def _nifti(path):
    """Labels ``[T, H, W]`` and zooms of a written masks.nii.gz, read with nibabel alone."""
    import nibabel as nib

    image = nib.load(str(path))
    data = np.asarray(image.dataobj)
    assert data.shape[2] == 1 and data.dtype == np.uint8
    return data[:, :, 0, :].transpose(2, 1, 0), tuple(float(z) for z in image.header.get_zooms())


def _dice(a, b):
    a, b = a.astype(bool), b.astype(bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * (a & b).sum() / total


def _check_dice(out, case, labels, method, structure, label_id, truth, scored):
    """Eval's reported mean Dice of ``structure`` (per_case.csv: 6 decimals) equals the Dice of
    the file's label ``label_id`` against the dataset's ground truth on the scored frames."""
    row = next(
        r
        for r in _rows(out / "per_case.csv")
        if r["case"] == case and r["method"] == method and r["structure"] == structure
    )
    expected = np.mean([_dice(labels[t] == label_id, truth[t] == label_id) for t in scored])
    assert float(row["dice"]) == pytest.approx(expected, abs=1.5e-6), (case, method, structure)


def test_camus_masks_carry_the_header_spacing_and_frame_rate(sam2_tiny_checkpoint, tmp_path):
    import nibabel as nib

    from samurai.data.synthetic import write_camus2023

    written = write_camus2023(tmp_path / "camus", n_patients=1, n_frames=3)
    out = tmp_path / "eval"
    assert _eval(tmp_path / "camus", out, sam2_tiny_checkpoint) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {(c["case"], m): e for c in manifest["exports"]["cases"] for m, e in c["methods"].items()}
    assert sorted(listed) == sorted((c, m) for c in written["cases"] for m in ("vanilla", "samurai"))
    for case, truth in written["cases"].items():
        patient = case.split("_")[0]
        image = nib.load(
            str(tmp_path / "camus" / "database_nifti" / patient / f"{case}_half_sequence.nii.gz")
        )
        info = (
            tmp_path / "camus" / "database_nifti" / patient / f"Info_{case.split('_')[1]}.cfg"
        ).read_text()
        fps = float(next(line.split(":")[1] for line in info.splitlines() if line.startswith("FrameRate")))
        for method in ("vanilla", "samurai"):
            path = out / "masks" / case / method / "masks.nii.gz"
            assert listed[(case, method)]["nifti"] == path.relative_to(out).as_posix()
            assert path.relative_to(out).as_posix() in manifest["files"]
            labels, zooms = _nifti(path)
            assert labels.shape == truth["masks"].shape
            # The image's own in-plane spacing (mm) and the Info file's frame rate.
            assert zooms[:2] == pytest.approx(image.header.get_zooms()[:2], rel=1e-6)
            assert zooms[3] == pytest.approx(1000.0 / fps)
            assert set(np.unique(labels)) <= {0, 1, 2, 3}  # the dataset's label ids
            # LA (3) is the highest id: nothing overlaps it in the label map, so its Dice is the one
            # eval scored; the prompt frame 0 is not scored.
            _check_dice(out, case, labels, method, "LA", 3, truth["masks"], [1, 2])


def test_echonet_masks_match_the_scores_and_no_mask_exports_leaves_only_them_out(
    sam2_tiny_checkpoint, tmp_path
):
    from samurai.data.synthetic import write_echonet

    written = write_echonet(tmp_path / "echonet", n_videos=1, n_frames=5, size=(64, 64))
    ((case, truth),) = written["cases"].items()
    out, bare = tmp_path / "eval", tmp_path / "bare"
    assert _eval(tmp_path / "echonet", out, sam2_tiny_checkpoint, "--prompt", "mask") == 0
    assert (
        _eval(tmp_path / "echonet", bare, sam2_tiny_checkpoint, "--prompt", "mask", "--no-mask-exports") == 0
    )
    (row,) = list(csv.DictReader((tmp_path / "echonet" / "FileList.csv").read_text().splitlines()))
    # EchoNet's truth is its tracings filled as polygons (as the loader reads them), not the
    # phantom's masks the tracings were drawn from.
    from samurai.data import open_dataset

    (loaded,) = open_dataset(tmp_path / "echonet")
    scored = [truth["ed_index"], truth["es_index"]]
    scored.remove(min(scored))  # the first labelled frame is the prompt
    for method in ("vanilla", "samurai"):
        labels, zooms = _nifti(out / "masks" / case / method / "masks.nii.gz")
        assert zooms[:2] == (1.0, 1.0) and zooms[3] == pytest.approx(1000.0 / float(row["FPS"]))
        _check_dice(out, case, labels, method, "LV", 1, loaded.masks, scored)
    import nibabel as nib

    assert b"spacing unknown" in bytes(
        nib.load(str(out / "masks" / case / "vanilla" / "masks.nii.gz")).header["descrip"]
    )

    def files(folder):
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file() and p.name != "manifest.json"
        }

    got, want = files(out), files(bare)
    assert sorted(got) == sorted([*want, *(f"masks/{case}/{m}/masks.nii.gz" for m in ("samurai", "vanilla"))])
    # summary.md names the exports in one more line.
    line = "\nMasks of every case and method: 2 masks.nii.gz in masks/<case>/<method>/ (manifest.json, `exports`, lists them).\n"
    assert got.pop("summary.md") == want.pop("summary.md") + line.encode()
    assert all(got[name] == want[name] for name in want)
    manifest = json.loads((bare / "manifest.json").read_text())
    assert manifest["exports"] == {"mask_exports": False, "folder": "masks", "cases": []}
    assert not (bare / "masks").exists()


def _dciodvfy(path):
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    report = result.stdout + result.stderr
    return [line for line in report.splitlines() if line.startswith("Error")], report


def test_generic_dicom_videos_get_a_valid_seg_of_exactly_the_written_masks(
    sam2_tiny_checkpoint, tmp_path, monkeypatch
):
    import highdicom as hd
    from PIL import Image
    from pydicom import dcmread

    from samurai.data.synthetic import phantom_sequence
    from samurai.dicom.privacy import identifying_values
    from samurai.dicom.synthetic import write_ultrasound

    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy is not installed (apt-get install dicom3tools)")
    monkeypatch.delenv("SAMURAI_STUDY_SALT", raising=False)
    rng = np.random.default_rng(0)
    data, truths = tmp_path / "data", {}
    for case in ("echo a", "echo-b"):  # a space: the case's folder under masks/ is made safe
        frames, masks = phantom_sequence(4, (48, 64), rng)
        masks = np.where(masks == 3, 2, np.where(masks == 1, 1, 0)).astype(np.uint8)  # LV 1, LA 2
        write_ultrasound(data / case / "cine.dcm", frames, spacing_cm=(0.02, 0.03), frame_time_ms=25.0)
        (data / case / "masks").mkdir()
        for t in (0, 3):
            Image.fromarray(masks[t]).save(data / case / "masks" / f"{t:05d}.png")
        truths[case] = masks
    (data / "labels.json").write_text(json.dumps({"1": "LV", "2": "LA"}))
    out = tmp_path / "eval"
    assert _eval(data, out, sam2_tiny_checkpoint) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    entries = {c["case"]: c for c in manifest["exports"]["cases"]}
    assert sorted(entries) == sorted(truths)
    for case, truth in truths.items():
        source = dcmread(data / case / "cine.dcm")
        entry = entries[case]
        assert entry["source"]["kind"] == "DICOM" and entry["source"]["study_hash"]
        assert str(source.StudyInstanceUID) not in json.dumps(manifest)
        assert not any(v in json.dumps(manifest) for v in identifying_values(source))
        for method in ("vanilla", "samurai"):
            folder = out / entry["methods"][method]["seg"].rsplit("/", 1)[0]
            assert (case == "echo-b") == (folder.parent.name == case)
            labels, zooms = _nifti(folder / "masks.nii.gz")
            assert zooms == pytest.approx((0.2, 0.3, 1.0, 25.0))  # the file's spacing (mm), frame time
            _check_dice(out, case, labels, method, "LA", 2, truth, [3])
            errors, report = _dciodvfy(folder / "seg.dcm")
            assert errors == [], report
            seg = hd.seg.segread(str(folder / "seg.dcm"))
            numbers = {str(d.SegmentLabel): int(d.SegmentNumber) for d in seg.SegmentSequence}
            assert sorted(numbers) == ["LA", "LV"]
            assert {uid for _, _, uid in seg.get_source_image_uids()} == {str(source.SOPInstanceUID)}
            pixels = seg.get_pixels_by_source_frame(
                str(source.SOPInstanceUID), [1, 2, 3, 4], segment_numbers=[numbers["LV"], numbers["LA"]]
            )
            assert np.array_equal(pixels[..., 0].astype(bool), labels == 1)
            assert np.array_equal(pixels[..., 1].astype(bool), labels == 2)


def test_a_case_whose_masks_cannot_be_written_is_recorded_as_failed(
    sam2_tiny_checkpoint, tmp_path, monkeypatch
):
    from samurai.data.synthetic import write_generic
    from samurai.eval import mask_exports

    write_generic(tmp_path / "data", n_videos=2, n_frames=3)
    real = mask_exports.CaseExports.__call__

    def full_disk_on_video01(self, method, masks, ids):
        if self.case.case_id == "video01":
            raise OSError(28, "No space left on device")
        return real(self, method, masks, ids)

    monkeypatch.setattr(mask_exports.CaseExports, "__call__", full_disk_on_video01)
    out = tmp_path / "eval"
    assert _eval(tmp_path / "data", out, sam2_tiny_checkpoint) == 3
    rows = _rows(out / "per_case.csv")
    assert {r["status"] for r in rows if r["case"] == "video01"} == {"failed"}
    assert all("No space left" in r["error"] for r in rows if r["case"] == "video01")
    assert {r["status"] for r in rows if r["case"] == "video00"} == {"ok"}
    assert sorted(p.relative_to(out).as_posix() for p in (out / "masks").rglob("*.nii.gz")) == [
        "masks/video00/samurai/masks.nii.gz",
        "masks/video00/vanilla/masks.nii.gz",
    ]
