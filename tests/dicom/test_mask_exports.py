"""One call writes masks.nii.gz and, for a DICOM source, seg.dcm: both read back (nibabel,
highdicom) into the label maps given, with the DICOM's spacing and frame time."""

import numpy as np

from samurai.dicom.seg import read_segmentation
from samurai.dicom.synthetic import echo_frames, write_ultrasound
from samurai.mask_exports import write_mask_exports
from samurai.nifti import read_masks_nifti
from samurai_common.frames import open_frames
from samurai_common.source_info import SourceInfo

T, H, W = 3, 24, 32


def _labels():
    labels = np.zeros((T, H, W), np.uint8)
    labels[:, 2:10, 3:12] = 1
    labels[:, 12:20, 14:28] = 2
    labels[1, 0:2, 0:2] = 3  # an object with no chamber name
    return labels


def test_dicom_source_gets_nifti_and_seg(tmp_path):
    frames = open_frames(
        write_ultrasound(
            tmp_path / "echo.dcm", echo_frames(T, (H, W)), spacing_cm=(0.02, 0.03), frame_time_ms=25.0
        )
    )
    labels = _labels()
    out = tmp_path / "run"
    out.mkdir()
    entry = write_mask_exports(out, frames, labels, {1: "LV", 2: "RA"})
    back, spacing, frame_time = read_masks_nifti(out / "masks.nii.gz")
    assert np.array_equal(back, labels)
    assert np.allclose(spacing, (0.02, 0.03)) and frame_time == 25.0
    seg = read_segmentation(out / "seg.dcm", n_source_frames=T)
    assert np.array_equal(seg["LV"], labels == 1) and np.array_equal(seg["RA"], labels == 2)
    segments = {"1": "LV", "2": "RA", "3": "object 3"}
    assert entry["exports"] == {"nifti": "masks.nii.gz", "seg": "seg.dcm", "seg_segments": segments}
    assert np.array_equal(seg["object 3"], labels == 3)
    assert entry["source"]["kind"] == "DICOM" and entry["source"]["units"]["area"] == "cm²"


def test_plain_video_gets_nifti_in_the_given_or_unknown_units(tmp_path):
    frames = open_frames(echo_frames(T, (H, W)))
    entry = write_mask_exports(tmp_path, frames, _labels())
    assert read_masks_nifti(tmp_path / "masks.nii.gz")[1] is None
    assert entry["source"]["units"]["area"] == "px²" and "seg" not in entry["exports"]
    entry = write_mask_exports(
        tmp_path, frames, _labels(), info=SourceInfo(spacing=(0.05, 0.05), spacing_source="--spacing")
    )
    assert entry["source"]["spacing_source"] == "--spacing"
    assert not (tmp_path / "seg.dcm").exists()


def test_generic_layout_reads_a_dicom_video_with_its_spacing(tmp_path):
    from PIL import Image

    from samurai.data import open_dataset

    case = tmp_path / "data" / "case0"
    rgb = echo_frames(T, (H, W))
    write_ultrasound(case / "echo.dcm", rgb, encoding="rle", spacing_cm=(0.02, 0.03))
    (case / "masks").mkdir()
    Image.fromarray(_labels()[1]).save(case / "masks" / "00001.png")
    (c,) = open_dataset(tmp_path / "data", kind="generic")
    # ITU-R 601 luma, as OpenCV converts the other videos: a second implementation in NumPy.
    luma = np.round(rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    assert np.abs(c.frames.astype(int) - luma).max() <= 1
    assert c.labelled.tolist() == [False, True, False] and np.array_equal(c.masks[1], _labels()[1])
    assert c.spacing == (0.3, 0.2)  # (row, col) mm
