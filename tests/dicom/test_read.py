"""Ultrasound DICOM read as frames: pixels against DCMTK's decoders (and Pillow on the raw JPEG
fragments), units against the regions written, and every bad input as a user error."""

import io
import subprocess

import numpy as np
import pytest
from PIL import Image

from samurai.dicom.synthetic import doppler_region, echo_frames, tissue_region, write_ultrasound
from samurai_common.dicom import DicomError, DicomFrames, list_dicom_videos, open_dicom
from samurai_common.frames import FrameError, open_frames
from samurai_common.source_info import pixel_area_cm2, units

T, H, W = 3, 32, 48

CASES = [  # (encoding, photometric, max difference from DCMTK's decode)
    ("native", "RGB", 0),
    ("implicit", "RGB", 0),
    ("native", "YBR_FULL", 1),  # YCbCr -> RGB rounding differs by at most one level
    ("native", "YBR_FULL_422", 1),
    ("native", "MONOCHROME2", 0),
    ("native", "MONOCHROME1", 1),  # dcm2pnm's inversion rounds through its display LUT
    ("native", "PALETTE COLOR", 0),
    ("rle", "RGB", 0),
    ("rle", "YBR_FULL", 1),
    ("rle", "MONOCHROME2", 0),
    ("jpeg", "YBR_FULL_422", 0),
    ("jpeg", "MONOCHROME2", 0),
]


def _dcmtk_frames(path, tmp_path, need_tool):
    """Every frame as DCMTK decodes it (dcmdjpeg for JPEG, then dcm2pnm), as RGB arrays."""
    need_tool("dcm2pnm")
    src = path
    if b"1.2.840.10008.1.2.4.50" in path.read_bytes()[:2000]:
        need_tool("dcmdjpeg")
        src = tmp_path / "decompressed.dcm"
        subprocess.run(["dcmdjpeg", str(path), str(src)], check=True)
    subprocess.run(["dcm2pnm", "+Fa", "+op", str(src), str(tmp_path / "ref")], check=True)
    return [
        np.asarray(Image.open(tmp_path / f"ref.{t}.{ext}").convert("RGB"))
        for t in range(T)
        for ext in ("ppm", "pgm")
        if (tmp_path / f"ref.{t}.{ext}").exists()
    ]


@pytest.mark.parametrize("encoding, photometric, tolerance", CASES)
def test_frames_match_dcmtk(encoding, photometric, tolerance, tmp_path, need_tool):
    path = write_ultrasound(
        tmp_path / "echo.dcm", echo_frames(T, (H, W)), encoding=encoding, photometric=photometric
    )
    ref = _dcmtk_frames(path, tmp_path, need_tool)
    frames = open_frames(path)
    assert isinstance(frames, DicomFrames) and len(frames) == T == len(ref)
    assert (frames.height, frames.width) == (H, W)
    for t in (2, 0, 1):  # out of order: random access, not only streaming
        got = frames[t]
        assert got.shape == (H, W, 3) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - ref[t].astype(int)).max() <= tolerance


@pytest.mark.parametrize("encoding", ["jpegls", "j2k"])
@pytest.mark.parametrize("photometric", ["RGB", "MONOCHROME2"])
def test_lossless_jpeg_ls_and_jpeg_2000_give_back_the_written_pixels(encoding, photometric, tmp_path):
    # Lossless: the oracle is the array that was encoded, whoever decodes it.
    rgb = echo_frames(T, (H, W))
    grey = rgb.mean(axis=3).round().astype(np.uint8)
    path = write_ultrasound(tmp_path / "echo.dcm", rgb, encoding=encoding, photometric=photometric)
    frames = open_frames(path)
    want = rgb if photometric == "RGB" else np.repeat(grey[..., None], 3, axis=3)
    assert np.array_equal(np.stack(list(frames)), want)


def test_jpeg_frames_match_pillow_on_the_raw_fragments(tmp_path):
    from pydicom import dcmread
    from pydicom.encaps import generate_frames

    path = write_ultrasound(
        tmp_path / "echo.dcm", echo_frames(T, (H, W)), encoding="jpeg", photometric="YBR_FULL_422"
    )
    ds = dcmread(path)
    raw = list(generate_frames(ds.PixelData, number_of_frames=T))
    frames = open_dicom(path)
    for t, data in enumerate(raw):
        ref = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert np.array_equal(frames[t], ref)


def test_suffixless_file_is_found_by_its_preamble(tmp_path):
    path = write_ultrasound(tmp_path / "1.2.3.4", echo_frames(T, (H, W)))
    assert isinstance(open_frames(path), DicomFrames)


def test_region_spacing_gives_the_area_of_a_drawn_rectangle(tmp_path):
    # A 10 x 6 pixel rectangle at 0.05 cm x 0.08 cm per pixel is 0.5 cm x 0.48 cm = 0.24 cm².
    path = write_ultrasound(
        tmp_path / "echo.dcm", echo_frames(T, (H, W)), spacing_cm=(0.05, 0.08), pixel_spacing_mm=(9.0, 9.0)
    )  # regions win over Pixel Spacing
    info = open_dicom(path).info
    mask = np.zeros((H, W), bool)
    mask[4:10, 3:13] = True
    assert mask.sum() * pixel_area_cm2(info.spacing) == pytest.approx(0.24)
    assert "Ultrasound Regions" in info.spacing_source and units(info.spacing)["area"] == "cm²"
    assert info.frame_time_ms == pytest.approx(33.3) and info.heart_rate == 72
    assert info.fps == pytest.approx(1000 / 33.3)


def test_spacing_falls_back_to_pixel_spacing_then_to_pixels(tmp_path):
    # Pixel Spacing is row, column in mm: 0.2 mm rows, 0.5 mm columns -> sx 0.05 cm, sy 0.02 cm.
    info = open_dicom(
        write_ultrasound(
            tmp_path / "a.dcm", echo_frames(T, (H, W)), spacing_cm=None, pixel_spacing_mm=(0.2, 0.5)
        )
    ).info
    assert info.spacing == pytest.approx((0.05, 0.02)) and info.spacing_source == "DICOM Pixel Spacing"
    info = open_dicom(write_ultrasound(tmp_path / "b.dcm", echo_frames(T, (H, W)), spacing_cm=None)).info
    assert info.spacing is None and units(info.spacing) == {"length": "px", "area": "px²", "volume": "px³"}
    assert info.as_dict()["spacing_source"] == "unknown (values in pixels)"


def test_frame_time_from_vector_or_cine_rate(tmp_path):
    info = open_dicom(
        write_ultrasound(
            tmp_path / "a.dcm", echo_frames(T, (H, W)), frame_time_ms=None, frame_time_vector=[0, 20, 30]
        )
    ).info
    assert info.frame_time_ms == pytest.approx(25.0)
    info = open_dicom(
        write_ultrasound(tmp_path / "b.dcm", echo_frames(T, (H, W)), frame_time_ms=None, cine_rate=50)
    ).info
    assert info.frame_time_ms == pytest.approx(20.0)


def test_same_calibration_in_two_tissue_regions_is_one_spacing(tmp_path):
    regions = [tissue_region(W // 2, H, (0.04, 0.04)), tissue_region(W // 2, H, (0.04, 0.04))]
    info = open_dicom(write_ultrasound(tmp_path / "a.dcm", echo_frames(T, (H, W)), regions=regions)).info
    assert info.spacing == (0.04, 0.04)


def test_frames_stream_without_reading_the_pixel_data_whole(tmp_path, monkeypatch):
    path = write_ultrasound(
        tmp_path / "echo.dcm", echo_frames(8, (H, W)), encoding="jpeg", photometric="YBR_FULL_422"
    )
    frames = open_dicom(path)
    reads = []
    real_read = frames._fp.read
    monkeypatch.setattr(frames._fp, "read", lambda n=-1: reads.append(n) or real_read(n))
    for _ in frames:
        pass
    assert all(0 < n < path.stat().st_size // 4 for n in reads)  # frame-sized reads only


def test_folder_and_dicomdir_list_the_cines(tmp_path, capsys):
    from pydicom.dataset import Dataset
    from pydicom.fileset import FileSet

    root = tmp_path / "study"
    a = write_ultrasound(root / "a.dcm", echo_frames(T, (H, W)))
    b = write_ultrasound(root / "sub" / "B0001", echo_frames(T, (H, W)), encoding="rle")
    write_ultrasound(root / "still.dcm", echo_frames(1, (H, W)))
    sr = Dataset()  # a structured report: no pixel data
    from samurai.dicom.synthetic import _base_dataset

    sr = _base_dataset("1.2.840.10008.5.1.4.1.1.88.33", None)
    sr.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    sr.save_as(root / "report.dcm", enforce_file_format=True)
    (root / "notes.txt").write_text("not DICOM")
    lines = []
    assert list_dicom_videos(root, on_skip=lines.append) == sorted([a, b])
    assert len(lines) == 2 and any("not an image" in s for s in lines)
    assert any("single image" in s for s in lines)

    fs = FileSet()
    for p in (a, b):
        fs.add(p)
    fs.write(tmp_path / "media")
    fs._stage["t"].cleanup()  # pydicom's staging folder; else cleaned (with a warning) at exit
    videos = list_dicom_videos(tmp_path / "media" / "DICOMDIR")
    assert len(videos) == 2 and all(isinstance(open_frames(v), DicomFrames) for v in videos)


# --- bad input: the user-error type, naming the file, the problem and the fix ----------------


def _bad(tmp_path, **kwargs):
    return write_ultrasound(tmp_path / "bad.dcm", echo_frames(T, (H, W)), **kwargs)


def test_no_pixel_data(tmp_path):
    from samurai.dicom.synthetic import _base_dataset

    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.104.1", None)  # encapsulated PDF
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.save_as(tmp_path / "doc.dcm", enforce_file_format=True)
    with pytest.raises(DicomError, match=r"doc\.dcm.*no pixel data.*Encapsulated PDF.*pass the"):
        open_frames(tmp_path / "doc.dcm")


def test_single_frame_where_a_video_is_needed(tmp_path):
    path = write_ultrasound(tmp_path / "still.dcm", echo_frames(1, (H, W)))
    assert len(open_dicom(path)) == 1
    with pytest.raises(DicomError, match=r"still\.dcm.*single image.*export the clip as a multi-frame"):
        open_dicom(path, min_frames=2)


@pytest.mark.parametrize("encoding", ["native", "jpeg"])
def test_header_frame_count_differs_from_the_data(encoding, tmp_path):
    photometric = "YBR_FULL_422" if encoding == "jpeg" else "RGB"
    path = _bad(tmp_path, encoding=encoding, photometric=photometric, number_of_frames=5)
    with pytest.raises(DicomError, match=r"bad\.dcm.*says it holds 5 frames.*holds 3.*export it again"):
        open_frames(path)


@pytest.mark.parametrize("encoding", ["native", "jpeg", "rle"])
def test_truncated_file(encoding, tmp_path):
    photometric = "YBR_FULL_422" if encoding == "jpeg" else "RGB"
    path = _bad(tmp_path, encoding=encoding, photometric=photometric)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DicomError, match=r"bad\.dcm.*(truncated|holds \d).*(again)"):
        source = open_frames(path)
        for _ in source:
            pass


def test_truncated_inside_the_header(tmp_path):
    path = _bad(tmp_path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DicomError, match=r"bad\.dcm.*(truncated|not a readable).*again"):
        open_frames(path)


def test_unknown_transfer_syntax(tmp_path):
    path = _bad(tmp_path)
    data = path.read_bytes().replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.9\x00", 1)
    path.write_bytes(data)
    with pytest.raises(DicomError, match=r"bad\.dcm.*transfer syntax 1\.2\.840\.10008\.1\.2\.9.*dcmdjpeg"):
        open_frames(path)


def test_missing_decoder_names_the_extra(tmp_path, monkeypatch):
    from pydicom.pixels.decoders.base import Decoder

    path = _bad(tmp_path, encoding="rle")
    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    monkeypatch.setattr(Decoder, "missing_dependencies", property(lambda self: ["pylibjpeg-rle"]))
    with pytest.raises(
        DicomError, match=r"bad\.dcm.*RLE Lossless.*pylibjpeg-rle.*pip install -e '\.\[dicom\]'"
    ):
        open_frames(path)


def test_several_tissue_regions_with_different_calibrations(tmp_path):
    regions = [tissue_region(W // 2, H, (0.03, 0.03)), tissue_region(W // 2, H, (0.05, 0.05))]
    with pytest.raises(DicomError, match=r"bad\.dcm.*several 2D tissue regions.*--spacing"):
        open_frames(_bad(tmp_path, regions=regions))


def test_spacing_flag_settles_several_tissue_regions(tmp_path):
    regions = [tissue_region(W // 2, H, (0.03, 0.03)), tissue_region(W // 2, H, (0.05, 0.05))]
    info = open_dicom(_bad(tmp_path, regions=regions), spacing=(0.05, 0.05)).info
    assert info.spacing == (0.05, 0.05) and info.spacing_source == "--spacing"
    with pytest.raises(DicomError, match="only spectral"):
        open_dicom(_bad(tmp_path, regions=[doppler_region(W, H)]), spacing=(0.05, 0.05))


def test_doppler_only(tmp_path):
    with pytest.raises(DicomError, match=r"bad\.dcm.*only spectral \(Doppler\) regions.*B-mode"):
        open_frames(_bad(tmp_path, regions=[doppler_region(W, H)]))


def test_dicom_in_a_folder_of_pngs(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(echo_frames(T, (H, W))):
        Image.fromarray(frame).save(folder / f"{t:05d}.png")
    write_ultrasound(folder / "IM0001", echo_frames(T, (H, W)))
    with pytest.raises(FrameError, match=r"frames.*holds DICOM file.*IM0001.*pass it on its own"):
        open_frames(folder)


def test_dicom_errors_are_frame_errors():
    # The commands map FrameError to the user error (exit 2); DicomError must stay one.
    assert issubclass(DicomError, FrameError)


def test_reader_imports_pydicom_only_when_a_file_is_opened():
    import os
    import subprocess
    import sys

    code = "import sys, samurai_common.frames, samurai_common.dicom; print('pydicom' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))  # this checkout's code
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
