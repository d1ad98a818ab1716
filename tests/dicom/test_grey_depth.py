"""Grey pixels of more than 8 bits, with and without a VOI window, against DCMTK's display
pipeline (dcm2pnm), an implementation of PS3.3 C.11 that shares no code with the reader."""

import subprocess

import numpy as np
import pytest
from PIL import Image

from samurai.dicom.synthetic import echo_frames, write_ultrasound
from samurai_common.frames import open_frames

T, H, W = 2, 24, 32


def _deep_grey(tmp_path, photometric, bits=12, signed=False, **attrs):
    """An ultrasound cine of ``bits``-bit grey pixels in 16-bit words (native little endian),
    made from the 8-bit writer's file so every other attribute stays a valid ultrasound one."""
    from pydicom import dcmread

    base = write_ultrasound(tmp_path / "base.dcm", echo_frames(T, (H, W)), photometric="MONOCHROME2")
    ds = dcmread(base)
    rng = np.random.default_rng(3)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = rng.integers(lo, hi + 1, size=(T, H, W))
    values[0, 0, :4] = [lo, hi, lo, hi]  # the ends of the range are present
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
    ds.PixelRepresentation = int(signed)
    ds.PhotometricInterpretation = photometric
    ds.PixelData = values.astype("<i2" if signed else "<u2").tobytes()
    ds["PixelData"].VR = "OW"
    for key, value in attrs.items():
        setattr(ds, key, value)
    path = tmp_path / "deep.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def _dcm2pnm(path, tmp_path, *options):
    subprocess.run(["dcm2pnm", "+Fa", "+op", *options, str(path), str(tmp_path / "ref")], check=True)
    return [np.asarray(Image.open(tmp_path / f"ref.{t}.pgm")) for t in range(T)]


WINDOWS = [  # (photometric, signed, file attributes)
    ("MONOCHROME2", False, {"WindowCenter": 1500, "WindowWidth": 1200}),
    ("MONOCHROME1", False, {"WindowCenter": 2048, "WindowWidth": 4096}),
    ("MONOCHROME2", True, {"WindowCenter": 100, "WindowWidth": 900}),
    ("MONOCHROME2", False, {"WindowCenter": [900, 2000], "WindowWidth": [400, 800]}),  # the first
    (
        "MONOCHROME2",
        False,
        {"RescaleSlope": 2, "RescaleIntercept": -500, "WindowCenter": 3000, "WindowWidth": 2500},
    ),
]


@pytest.mark.parametrize("photometric, signed, attrs", WINDOWS)
def test_voi_window_matches_dcmtk(photometric, signed, attrs, tmp_path, need_tool):
    need_tool("dcm2pnm")
    path = _deep_grey(tmp_path, photometric, signed=signed, **attrs)
    ref = _dcm2pnm(path, tmp_path, "+Wi", "1")
    frames = open_frames(path)
    for t in range(T):
        got = frames[t]
        assert got.dtype == np.uint8 and got.shape == (H, W, 3)
        assert (got[..., 0] == got[..., 2]).all()
        # DCMTK rounds through its display LUT: one level at most.
        assert np.abs(got[..., 0].astype(int) - ref[t].astype(int)).max() <= 1
        # The window does what a window is for: values below it black, above it white.
        assert {0, 255} <= set(np.unique(got[..., 0]).tolist())


def test_linear_window_closed_form(tmp_path):
    # PS3.3 C.11.2.1.2.1 with c = 1000, w = 201: the window spans 899.5 .. 1099.5.
    path = _deep_grey(tmp_path, "MONOCHROME2", WindowCenter=1000, WindowWidth=201)
    from pydicom import dcmread

    stored = dcmread(path).pixel_array[1].astype(float)
    expected = np.clip(((stored - 999.5) / 200 + 0.5) * 255, 0, 255)
    assert np.abs(open_frames(path)[1][..., 0] - expected).max() <= 0.5 + 1e-9


def test_without_a_window_the_stored_range_is_shown_whole(tmp_path, need_tool):
    need_tool("dcm2pnm")
    path = _deep_grey(tmp_path, "MONOCHROME2", bits=12)
    ref = _dcm2pnm(path, tmp_path)
    got = open_frames(path)[0][..., 0]
    assert got.min() == 0 and got.max() == 255
    assert np.abs(got.astype(int) - ref[0].astype(int)).max() <= 1
