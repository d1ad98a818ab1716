"""Spacing from a NIfTI/MHD header (CAMUS) and from ``--spacing``, the units they imply."""

import numpy as np
import pytest

from samurai_common.source_info import (
    SpacingError,
    parse_spacing_flag,
    pixel_area_cm2,
    spacing_from_flag,
    spacing_from_medical_image,
    units,
)


@pytest.mark.parametrize("name", ["seq.nii.gz", "seq.mhd"])
def test_camus_header_spacing_in_cm(name, tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    image = sitk.GetImageFromArray(np.zeros((3, 10, 8), np.uint8))
    image.SetSpacing((0.308, 0.154, 1.0))  # mm: x (columns), y (rows), frames, as CAMUS stores
    sitk.WriteImage(image, str(tmp_path / name))
    info = spacing_from_medical_image(tmp_path / name)
    assert info.spacing == pytest.approx((0.0308, 0.0154))
    assert name in info.spacing_source
    # A 10 x 20 pixel region of that image: 0.308 cm x 0.308 cm.
    assert 200 * pixel_area_cm2(info.spacing) == pytest.approx(0.308 * 0.308)


def test_spacing_flag():
    assert parse_spacing_flag("0.03") == (0.03, 0.03)
    assert parse_spacing_flag("0.03,0.04") == (0.03, 0.04)
    assert spacing_from_flag(None).spacing is None and units(None)["length"] == "px"
    assert spacing_from_flag("0.05").spacing_source == "--spacing"
    for bad in ("", "a", "0", "-1", "1,2,3", "nan"):
        with pytest.raises(SpacingError, match="--spacing"):
            parse_spacing_flag(bad)


def test_unreadable_header_is_a_clear_error(tmp_path):
    pytest.importorskip("SimpleITK")
    (tmp_path / "bad.nii.gz").write_bytes(b"not an image")
    with pytest.raises(SpacingError, match="bad.nii.gz.*re-download"):
        spacing_from_medical_image(tmp_path / "bad.nii.gz")
