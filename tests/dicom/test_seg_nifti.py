"""DICOM Segmentation and NIfTI masks out: validated by dicom3tools' dciodvfy, read back by
highdicom (by source frame) and by SimpleITK, into exactly what was written."""

import subprocess

import numpy as np
import pytest

from samurai.dicom.seg import CHAMBER_CODES, SegmentationError, read_segmentation, write_segmentation
from samurai.dicom.synthetic import echo_frames, write_ultrasound
from samurai.nifti import read_masks_nifti, write_masks_nifti

T, H, W = 4, 24, 32


def _masks(n_frames, names=("LV", "LA", "RA", "RV"), seed=0):
    rng = np.random.default_rng(seed)
    masks = {name: rng.random((n_frames, H, W)) > 0.6 for name in names}
    masks[names[-1]][-1] = False  # an empty frame stays empty
    return masks


def _dciodvfy(path, need_tool):
    need_tool("dciodvfy")
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    report = result.stdout + result.stderr
    errors = [line for line in report.splitlines() if line.startswith("Error")]
    return errors, report


@pytest.mark.parametrize(
    "encoding, photometric, n_frames",
    [
        ("jpeg", "YBR_FULL_422", T),
        ("rle", "RGB", T),
        ("native", "MONOCHROME2", 1),
    ],
)
def test_segmentation_is_valid_and_reads_back_exactly(encoding, photometric, n_frames, tmp_path, need_tool):
    source = write_ultrasound(
        tmp_path / "echo.dcm", echo_frames(n_frames, (H, W)), encoding=encoding, photometric=photometric
    )
    masks = _masks(n_frames)
    seg = write_segmentation(tmp_path / "seg.dcm", source, masks)
    errors, report = _dciodvfy(seg, need_tool)
    assert errors == [], report
    back = read_segmentation(seg, n_source_frames=n_frames)
    assert sorted(back) == sorted(masks)
    for name in masks:
        assert back[name].shape == (n_frames, H, W)
        assert np.array_equal(back[name], masks[name]), name


def test_segmentation_references_the_source_frames_and_codes_the_chambers(tmp_path):
    import highdicom as hd
    from pydicom import dcmread

    source = write_ultrasound(tmp_path / "echo.dcm", echo_frames(T, (H, W)))
    src = dcmread(source)
    seg = hd.seg.segread(str(write_segmentation(tmp_path / "seg.dcm", source, _masks(T))))
    assert seg.StudyInstanceUID == src.StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    refs = {
        (r.ReferencedSOPInstanceUID, int(r.ReferencedFrameNumber))
        for f in seg.PerFrameFunctionalGroupsSequence
        for r in f.DerivationImageSequence[0].SourceImageSequence
    }
    assert refs == {(src.SOPInstanceUID, t) for t in range(1, T + 1)}
    # SNOMED CT codes as the DICOM standard's code tables give them (pydicom.sr.codedict).
    from pydicom.sr.codedict import codes

    expected = {
        "LV": codes.SCT.LeftVentricle,
        "LA": codes.SCT.LeftAtrium,
        "RV": codes.SCT.RightVentricle,
        "RA": codes.SCT.RightAtrium,
    }
    for item in seg.SegmentSequence:
        code = item.SegmentedPropertyTypeCodeSequence[0]
        assert code.CodingSchemeDesignator == "SCT"
        assert code.CodeValue == expected[item.SegmentLabel].value == CHAMBER_CODES[item.SegmentLabel][0]


def test_structures_other_than_chambers_are_coded_and_valid(tmp_path, need_tool):
    # The LV myocardium by its own concept, anything else as the generic "Anatomical Structure"
    # with the user's label: codes as the standard's tables (pydicom.sr.codedict) give them.
    import highdicom as hd
    from pydicom.sr.codedict import codes

    source = write_ultrasound(tmp_path / "echo.dcm", echo_frames(T, (H, W)))
    masks = _masks(T, names=("LV", "myocardium", "mitral ring"))
    path = write_segmentation(tmp_path / "seg.dcm", source, masks)
    errors, report = _dciodvfy(path, need_tool)
    assert errors == [], report
    expected = {
        "LV": codes.SCT.LeftVentricle,
        "myocardium": codes.SCT.LeftVentricleMyocardium,
        "mitral ring": codes.SCT.AnatomicalStructure,
    }
    seg = hd.seg.segread(str(path))
    for item in seg.SegmentSequence:
        code = item.SegmentedPropertyTypeCodeSequence[0]
        assert (code.CodingSchemeDesignator, code.CodeValue) == ("SCT", expected[item.SegmentLabel].value)
    back = read_segmentation(path, n_source_frames=T)
    assert all(np.array_equal(back[name], masks[name]) for name in masks)


def test_segmentation_refuses_masks_of_another_size(tmp_path):
    source = write_ultrasound(tmp_path / "echo.dcm", echo_frames(T, (H, W)))
    with pytest.raises(SegmentationError, match="source has 4 frames of 24x32"):
        write_segmentation(tmp_path / "seg.dcm", source, {"LV": np.zeros((T, H, W + 1), bool)})
    with pytest.raises(SegmentationError, match="1 to 64 characters"):
        write_segmentation(tmp_path / "seg.dcm", source, {"x" * 65: np.zeros((T, H, W), bool)})
    assert not (tmp_path / "seg.dcm").exists()


def test_nifti_masks_read_by_simpleitk_with_spacing_and_frame_time(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    labels = np.random.default_rng(1).integers(0, 5, (T, H, W)).astype(np.uint8)
    path = write_masks_nifti(tmp_path / "masks.nii.gz", labels, spacing=(0.03, 0.05), frame_time_ms=20.0)
    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)  # [T, 1, H, W]
    assert np.array_equal(array[:, 0], labels)
    sx, sy, _, dt = image.GetSpacing()
    assert (sx, sy) == pytest.approx((0.3, 0.5))  # mm
    assert dt == pytest.approx(0.020)  # ITK gives the NIfTI time step in seconds
    back, spacing, frame_time = read_masks_nifti(path)
    assert np.array_equal(back, labels) and spacing == pytest.approx((0.03, 0.05))
    assert frame_time == pytest.approx(20.0)


def test_nifti_with_unknown_spacing_says_so(tmp_path):
    nib = pytest.importorskip("nibabel")
    path = write_masks_nifti(tmp_path / "m.nii.gz", np.zeros((2, H, W), np.uint8))
    assert b"spacing unknown" in bytes(nib.load(str(path)).header["descrip"])
    assert read_masks_nifti(path)[1] is None


def test_frames_of_odd_size_are_packed_across_byte_boundaries(tmp_path, need_tool):
    # 5 x 7 = 35 pixels: frames do not fill whole bytes, so packing runs across frames.
    source = write_ultrasound(tmp_path / "echo.dcm", echo_frames(3, (5, 7)))
    rng = np.random.default_rng(3)
    masks = {"LV": rng.random((3, 5, 7)) > 0.5, "RV": rng.random((3, 5, 7)) > 0.5}
    seg = write_segmentation(tmp_path / "seg.dcm", source, masks)
    errors, report = _dciodvfy(seg, need_tool)
    assert errors == [], report
    back = read_segmentation(seg, n_source_frames=3)
    assert all(np.array_equal(back[k], masks[k]) for k in masks)


def test_nifti_and_seg_from_png_masks_read_one_frame_at_a_time(tmp_path, need_tool, monkeypatch):
    """A run's exports from its masks/*.png (PngLabels): never the whole label video at once
    (each frame is read when written; no array of all frames is asked for), and what SimpleITK,
    highdicom and dciodvfy see is the PNGs' labels."""
    sitk = pytest.importorskip("SimpleITK")
    from PIL import Image

    from samurai.mask_exports import PngLabels, write_run_exports
    from samurai_common.dicom import open_dicom

    labels = np.random.default_rng(3).integers(0, 4, (T, H, W)).astype(np.uint8)
    (tmp_path / "masks").mkdir()
    for t, label in enumerate(labels):
        Image.fromarray(label).save(tmp_path / "masks" / f"{t:05d}.png")
    reads = []

    class Counted(PngLabels):
        def __getitem__(self, t):
            reads.append(t)
            return super().__getitem__(t)

        def __array__(self, *args, **kwargs):
            raise AssertionError("the whole label video was asked for")

    import samurai.mask_exports as exports

    frames = open_dicom(write_ultrasound(tmp_path / "IM0001", echo_frames(T, (H, W))))
    monkeypatch.setattr(exports, "PngLabels", Counted)
    entry = write_run_exports(tmp_path, frames, T, [1, 2, 3], {1: "lv", 2: "la"})
    assert reads and set(reads) == set(range(T))
    segments = {"1": "LV", "2": "LA", "3": "object 3"}
    assert entry["exports"] == {"nifti": "masks.nii.gz", "seg": "seg.dcm", "seg_segments": segments}
    array = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "masks.nii.gz")))
    assert np.array_equal(array[:, 0], labels)
    back = read_segmentation(tmp_path / "seg.dcm", n_source_frames=T)
    assert np.array_equal(back["LV"], labels == 1) and np.array_equal(back["LA"], labels == 2)
    assert np.array_equal(back["object 3"], labels == 3)  # unnamed: a generic segment, not dropped
    errors, report = _dciodvfy(tmp_path / "seg.dcm", need_tool)
    assert errors == [], report
